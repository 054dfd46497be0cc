using System.Net;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Smtp.Tests.Support;

/// <summary>
/// The real <see cref="SmtpListener"/> on loopback, port 0, serving an <see cref="SmtpScript"/>'s options, spool and
/// log: one plain endpoint, and an implicit-TLS one as well when a test asks for it.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    public LoopbackServer(Action<SmtpServerOptions>? configure = null, bool implicitTls = false)
    {
        Smtp = new SmtpScript(configure);
        try
        {
            var plain = new ListenerEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
            ListenerEndpoint[] endpoints = implicitTls ? [plain, plain with { ImplicitTls = true }] : [plain];
            Listener = new SmtpListener(endpoints, Smtp.Options, Smtp.Spool, Smtp.Log);
            var bound = Listener.Start();
            Endpoint = bound[0];
            ImplicitTlsEndpoint = implicitTls ? bound[1] : null;
        }
        catch
        {
            Smtp.Dispose();
            throw;
        }
    }

    public SmtpScript Smtp { get; }

    public SmtpListener Listener { get; }

    /// <summary>The plain endpoint as bound (the real port).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>The implicit-TLS endpoint as bound, when the server has one.</summary>
    public IPEndPoint? ImplicitTlsEndpoint { get; }

    /// <summary>A client connected to the plain endpoint (from <paramref name="from"/> when given).</summary>
    public Task<WireClient> ConnectAsync(IPAddress? from = null) => WireClient.ConnectAsync(Endpoint, from);

    public async ValueTask DisposeAsync()
    {
        await Listener.DisposeAsync();
        Smtp.Options.Certificate?.Dispose();
        Smtp.Dispose();
    }
}
