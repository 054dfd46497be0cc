using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay.Tests.Fakes;

internal sealed record SentMessage(string Host, int Connection, string Sender, string[] Recipients, byte[] Message);

/// <summary>An upstream whose every answer the test decides; records connections, resets and messages.</summary>
internal sealed class ScriptedTransport : IRelayTransport
{
    private readonly Lock _gate = new();
    private int _connections;
    private int _open;

    public Func<DeliveryTarget, Exception?> OnConnect { get; set; } = _ => null;
    public Func<SentMessage, SmtpDeliveryResult> OnSend { get; set; } = m => Accept(m.Recipients);
    /// <summary>When set, every send waits for it (to hold connections open while the test looks).</summary>
    public TaskCompletionSource? Gate { get; set; }
    /// <summary>Per host: a task a send to that host waits for before it is answered (null = answer at once).</summary>
    public Func<string, Task?> HoldFor { get; set; } = _ => null;

    public List<SentMessage> Sent { get; } = [];
    public List<string> ConnectedTo { get; } = [];
    public int Resets;
    /// <summary>This many RSETs fail as if the server had closed an idle connection.</summary>
    public int FailResets;
    public int Quits;
    public int MaxOpen;
    public int Connections { get { lock (_gate) return _connections; } }
    public event Action? SendStarted;

    public static SmtpDeliveryResult Accept(IEnumerable<string> recipients)
        => new(recipients.Select(r => new RecipientResult(r, DeliveryClass.Sent, new SmtpReply(250, "2.0.0", "Ok: queued"))).ToList(),
            new SmtpReply(250, "2.0.0", "Ok: queued"));

    public static SmtpDeliveryResult Each(IEnumerable<string> recipients, Func<string, SmtpReply> reply)
        => new(recipients.Select(r =>
        {
            var rep = reply(r);
            var c = rep.Code < 400 ? DeliveryClass.Sent : rep.Code < 500 ? DeliveryClass.Deferred : DeliveryClass.Failed;
            return new RecipientResult(r, c, rep);
        }).ToList(), null);

    /// <summary>For <see cref="OnSend"/>: the first message sent gets <paramref name="first"/> for every recipient;
    /// every later one is accepted.</summary>
    public Func<SentMessage, SmtpDeliveryResult> FirstSendGets(SmtpReply first) =>
        m => Sent.Count == 1 ? Each(m.Recipients, _ => first) : Accept(m.Recipients);

    /// <summary>For <see cref="OnSend"/>: notices from the null sender (bounces, delay warnings) are accepted; every
    /// recipient of any other message gets <paramref name="reply"/>.</summary>
    public static Func<SentMessage, SmtpDeliveryResult> AcceptOnlyNullSender(SmtpReply reply) =>
        m => m.Sender.Length == 0 ? Accept(m.Recipients) : Each(m.Recipients, _ => reply);

    public Task<IRelayConnection> ConnectAsync(DeliveryTarget target, CancellationToken ct)
    {
        if (OnConnect(target) is { } e) return Task.FromException<IRelayConnection>(e);
        int n;
        lock (_gate)
        {
            n = ++_connections;
            ConnectedTo.Add(target.Host);
            _open++;
            MaxOpen = Math.Max(MaxOpen, _open);
        }
        return Task.FromResult<IRelayConnection>(new Connection(this, target.Host, n));
    }

    private sealed class Connection(ScriptedTransport owner, string host, int number) : IRelayConnection
    {
        private bool _closed;

        public async Task<SmtpDeliveryResult> SendAsync(string sender, IReadOnlyList<string> recipients, Stream message, long size,
            bool eightBit, bool smtpUtf8, CancellationToken ct)
        {
            var bytes = new MemoryStream();
            await message.CopyToAsync(bytes, ct);
            var sent = new SentMessage(host, number, sender, recipients.ToArray(), bytes.ToArray());
            lock (owner._gate) owner.Sent.Add(sent);
            owner.SendStarted?.Invoke();
            if (owner.Gate is { } gate) await gate.Task.WaitAsync(ct);
            if (owner.HoldFor(host) is { } hold) await hold.WaitAsync(ct);
            return owner.OnSend(sent);
        }

        public Task ResetAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref owner.Resets);
            if (Interlocked.Decrement(ref owner.FailResets) >= 0)
                return Task.FromException(new IOException("connection reset by peer"));
            return Task.CompletedTask;
        }
        public Task QuitAsync(CancellationToken ct) { Interlocked.Increment(ref owner.Quits); return Task.CompletedTask; }

        public ValueTask DisposeAsync()
        {
            if (!_closed) { _closed = true; lock (owner._gate) owner._open--; }
            return ValueTask.CompletedTask;
        }
    }
}
