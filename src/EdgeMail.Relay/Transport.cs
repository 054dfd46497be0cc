using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

/// <summary>The seam between the scheduler and the SMTP client, so scheduling rules are tested without sockets.</summary>
internal interface IRelayTransport
{
    Task<IRelayConnection> ConnectAsync(DeliveryTarget target, CancellationToken ct);
}

internal interface IRelayConnection : IAsyncDisposable
{
    Task<SmtpDeliveryResult> SendAsync(string sender, IReadOnlyList<string> recipients, Stream message, long size,
        bool eightBit, bool smtpUtf8, CancellationToken ct);
    Task ResetAsync(CancellationToken ct);
    Task QuitAsync(CancellationToken ct);
}

internal sealed class SmtpTransport : IRelayTransport
{
    public static readonly SmtpTransport Instance = new();

    public async Task<IRelayConnection> ConnectAsync(DeliveryTarget target, CancellationToken ct)
        => new Connection(await SmtpClientSession.ConnectAsync(target.Address, target.Port, target.Tls, target.Options, ct).ConfigureAwait(false));

    private sealed class Connection(SmtpClientSession session) : IRelayConnection
    {
        public Task<SmtpDeliveryResult> SendAsync(string sender, IReadOnlyList<string> recipients, Stream message, long size,
            bool eightBit, bool smtpUtf8, CancellationToken ct)
            => session.SendAsync(sender, recipients, message, size, eightBit, smtpUtf8, ct);
        public Task ResetAsync(CancellationToken ct) => session.ResetAsync(ct);
        public Task QuitAsync(CancellationToken ct) => session.QuitAsync(ct);
        public ValueTask DisposeAsync() => session.DisposeAsync();
    }
}
