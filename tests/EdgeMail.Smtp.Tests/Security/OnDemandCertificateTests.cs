using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Security;

/// <summary>
/// SmtpServerOptions.CertificateSource: the generated self-signed certificate is made at the first TLS handshake,
/// not at start-up, so a daemon whose clients never ask for TLS never loads OpenSSL. Real listener, real sockets.
/// </summary>
public sealed class OnDemandCertificateTests : IAsyncDisposable
{
    private readonly LoopbackServer _server;
    private int _calls;
    private Func<X509Certificate2> _make = () => ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);

    public OnDemandCertificateTests()
    {
        _server = new LoopbackServer(o => o.CertificateSource = () =>
        {
            Interlocked.Increment(ref _calls);
            return _make();
        });
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task STARTTLS_is_offered_before_the_certificate_exists_and_it_is_made_once_at_the_first_handshake()
    {
        await using (var first = await ConnectAsync())
        {
            var ehlo = await first.CommandAsync("EHLO client.test");
            Assert.Contains(ehlo, l => l[4..] == "STARTTLS");
            Assert.Equal(0, _calls);
            await StartTlsAsync(first);
            Assert.Equal(1, _calls);
        }
        await using (var second = await ConnectAsync())
        {
            await second.CommandAsync("EHLO client.test");
            await StartTlsAsync(second);
        }
        Assert.Equal(1, _calls);
    }

    [Fact]
    public async Task A_certificate_that_cannot_be_made_answers_454_keeps_the_session_and_is_tried_again_next_time()
    {
        _make = () => throw new CryptographicException("no entropy today");
        await using var c = await ConnectAsync();
        await c.CommandAsync("EHLO client.test");
        Assert.Equal(["454 4.7.0 TLS not available due to temporary reason"], await c.CommandAsync("STARTTLS"));
        Assert.Contains(_server.Smtp.Log.Lines, l => l.Contains("no entropy today", StringComparison.Ordinal));
        Assert.Equal(["250 2.0.0 Ok"], await c.CommandAsync("NOOP"));

        _make = () => ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);
        await StartTlsAsync(c);
        Assert.Equal(2, _calls);
    }

    private async Task<WireClient> ConnectAsync()
    {
        var c = await _server.ConnectAsync();
        Assert.StartsWith("220 ", (await c.ReadReplyAsync())[0], StringComparison.Ordinal);
        return c;
    }

    /// <summary>STARTTLS, the handshake, and EHLO again over TLS.</summary>
    private static async Task StartTlsAsync(WireClient c)
    {
        Assert.Equal(["220 2.0.0 Ready to start TLS"], await c.CommandAsync("STARTTLS"));
        await c.HandshakeAsync();
        Assert.Equal("250 mx.test", (await c.CommandAsync("EHLO client.test"))[0][..11].Replace('-', ' '));
    }
}
