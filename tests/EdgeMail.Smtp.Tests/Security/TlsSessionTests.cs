using System.Net;
using System.Text;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Security;

/// <summary>
/// STARTTLS (RFC 3207) and implicit TLS (RFC 8314) through the real listener on a loopback socket, with an
/// SslStream client and a freshly generated certificate. Every wait is for a reply, never for time.
/// </summary>
public sealed class TlsSessionTests : IAsyncDisposable
{
    private readonly LoopbackServer _server;
    private readonly string _folder = Directory.CreateTempSubdirectory("edgemail-tlssession-").FullName;

    public TlsSessionTests()
    {
        string users = Path.Combine(_folder, "users");
        File.WriteAllText(users, "alice:" + PasswordHash.Create("secret"u8, PasswordHash.MinIterations) + "\n");
        _server = new LoopbackServer(o =>
        {
            o.Certificate = ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);
            o.Users = new UserStore(users);
            o.Policy = new RelayPolicy(new RelayPolicyOptions { AllowedNetworks = NetworkList.Empty, LocalDomains = new DomainList(["mx.test"]) });
            o.Throttle = new AuthThrottle(new AuthThrottleOptions { BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero });
        }, implicitTls: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task STARTTLS_is_offered_plaintext_after_it_is_discarded_and_EHLO_is_needed_again()
    {
        await using var c = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        var ehlo = await c.CommandAsync("EHLO client.test");
        Assert.Contains(ehlo, l => l[4..] == "STARTTLS");
        // AUTH is not invited over plaintext (RFC 4954 §4): no plaintext-AUTH network is configured.
        Assert.DoesNotContain(ehlo, l => l.Contains("AUTH", StringComparison.Ordinal));

        // CVE-2011-0411: the RSET arrives in clear text in the same segment as STARTTLS. It must never be answered
        // (over TLS it would look as if the client had sent it there).
        await c.SendAsync("STARTTLS\r\nRSET\r\n");
        Assert.Equal("220 2.0.0 Ready to start TLS", await c.ReadLineAsync());
        await c.HandshakeAsync();

        // RFC 3207 §4.2: the EHLO before the handshake is forgotten. The first reply over TLS answers this MAIL, so
        // nothing was said about the RSET.
        Assert.Equal(["503 5.5.1 Send HELO/EHLO first"], await c.CommandAsync("MAIL FROM:<a@client.test>"));
        ehlo = await c.CommandAsync("EHLO client.test");
        Assert.DoesNotContain(ehlo, l => l.Contains("STARTTLS", StringComparison.Ordinal));
        Assert.Equal("250 AUTH PLAIN LOGIN", ehlo[^1]);
        Assert.Equal(["503 5.5.1 TLS already active"], await c.CommandAsync("STARTTLS"));

        Assert.Equal(["235 2.7.0 Authentication successful"], await c.CommandAsync("AUTH PLAIN " + SessionSecurityTests.Plain("alice", "secret")));
        await c.SendAsync("MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n");
        Assert.Equal(["250 2.1.0 Sender ok"], await c.ReadReplyAsync());
        Assert.Equal(["250 2.1.5 Recipient ok"], await c.ReadReplyAsync());
        Assert.Equal(["354 End data with <CR><LF>.<CR><LF>"], await c.ReadReplyAsync());
        await c.SendAsync("Subject: over TLS\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        var queued = await c.ReadReplyAsync();
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued[0], StringComparison.Ordinal);
        Assert.Equal(["221 2.0.0 Bye"], await c.ReadReplyAsync());

        string id = SmtpScript.QueueIdFrom(queued);
        Assert.Equal("alice", _server.Smtp.Spool.Get(id)!.Envelope.AuthenticatedUser);
        Assert.Contains("with ESMTPSA id", _server.Smtp.MessageText(id), StringComparison.Ordinal);
        Assert.Contains(_server.Smtp.Log.Lines, l => l.Contains("discarded 6 plaintext bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_TLS_an_outside_client_cannot_authenticate_or_relay()
    {
        await using var c = await _server.ConnectAsync();
        await c.ReadLineAsync();
        await c.CommandAsync("EHLO client.test");
        Assert.Equal(["530 5.7.0 Must issue a STARTTLS command first"], await c.CommandAsync("AUTH PLAIN " + SessionSecurityTests.Plain("alice", "secret")));
        await c.SendAsync("MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.example>\r\n");
        Assert.Equal(["250 2.1.0 Sender ok"], await c.ReadReplyAsync());
        Assert.Equal(["554 5.7.1 Relay access denied"], await c.ReadReplyAsync());
    }

    [Fact]
    public async Task An_implicit_TLS_listener_handshakes_before_the_greeting_and_offers_AUTH_not_STARTTLS()
    {
        await using var c = await WireClient.ConnectAsync(_server.ImplicitTlsEndpoint!);
        await c.HandshakeAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        var ehlo = await c.CommandAsync("EHLO client.test");
        Assert.DoesNotContain(ehlo, l => l.Contains("STARTTLS", StringComparison.Ordinal));
        Assert.Equal("250 AUTH PLAIN LOGIN", ehlo[^1]);
        Assert.Equal(["221 2.0.0 Bye"], await c.CommandAsync("QUIT"));
    }

    [Fact]
    public async Task A_client_that_speaks_plaintext_to_the_implicit_TLS_port_is_closed_without_a_reply()
    {
        await using var c = await WireClient.ConnectAsync(_server.ImplicitTlsEndpoint!);
        await c.SendAsync("EHLO client.test\r\n");
        var buffer = new byte[256];
        int n;
        try
        {
            n = await c.Stream.ReadAsync(buffer);
        }
        catch (IOException)
        {
            n = 0; // connection reset: closed just the same
        }
        // Whatever SslStream sends (a TLS alert, or nothing) is not an SMTP reply.
        Assert.False(n >= 3 && char.IsAsciiDigit((char)buffer[0]) && char.IsAsciiDigit((char)buffer[1]), Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void An_implicit_TLS_endpoint_without_a_certificate_is_a_configuration_error()
    {
        using var smtp = new SmtpScript();
        Assert.Throws<ArgumentException>(() => new SmtpListener([new ListenerEndpoint(new IPEndPoint(IPAddress.Loopback, 0), ImplicitTls: true)], smtp.Options, smtp.Spool, null));
    }
}
