using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
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
    private readonly SmtpScript _smtp;
    private readonly SmtpListener _listener;
    private readonly IPEndPoint _plain;
    private readonly IPEndPoint _implicit;

    public TlsSessionTests()
    {
        var folder = Path.Combine(Path.GetTempPath(), "edgemail-tlssession-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string users = Path.Combine(folder, "users");
        File.WriteAllText(users, "alice:" + PasswordHash.Create("secret"u8, PasswordHash.MinIterations) + "\n");
        _smtp = new SmtpScript(o =>
        {
            o.Certificate = ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);
            o.Users = new UserStore(users);
            o.Policy = new RelayPolicy(new RelayPolicyOptions { AllowedNetworks = NetworkList.Empty, LocalDomains = new DomainList(["mx.test"]) });
            o.Throttle = new AuthThrottle(new AuthThrottleOptions { BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero });
        });
        _listener = new SmtpListener(
            [new ListenerEndpoint(new IPEndPoint(IPAddress.Loopback, 0)), new ListenerEndpoint(new IPEndPoint(IPAddress.Loopback, 0), ImplicitTls: true)],
            _smtp.Options, _smtp.Spool, _smtp.Log);
        var bound = _listener.Start();
        (_plain, _implicit) = (bound[0], bound[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
        _smtp.Options.Certificate?.Dispose();
        _smtp.Dispose();
    }

    private static async Task<SslStream> ClientTlsAsync(Stream inner)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            // The test trusts the certificate it generated itself; the server's choice of certificate is not under test.
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        return ssl;
    }

    /// <summary>Reads one reply line byte by byte, so no read-ahead ever swallows bytes meant for the TLS handshake.</summary>
    private static async Task<string?> LineAsync(Stream s)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await s.ReadAsync(one) == 0)
                return sb.Length == 0 ? null : sb.ToString();
            if (one[0] == '\n')
                return sb.ToString().TrimEnd('\r');
            sb.Append((char)one[0]);
        }
    }

    /// <summary>All lines of one (possibly multi-line) reply.</summary>
    private static async Task<List<string>> ReplyAsync(Stream s)
    {
        var lines = new List<string>();
        while (await LineAsync(s) is { } line)
        {
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
                break;
        }
        return lines;
    }

    private static Task SendAsync(Stream s, string text) => s.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    [Fact]
    public async Task STARTTLS_is_offered_plaintext_after_it_is_discarded_and_EHLO_is_needed_again()
    {
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(_plain);
        var net = tcp.GetStream();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await LineAsync(net));
        await SendAsync(net, "EHLO client.test\r\n");
        var ehlo = await ReplyAsync(net);
        Assert.Contains(ehlo, l => l[4..] == "STARTTLS");
        // AUTH is not invited over plaintext (RFC 4954 §4): no plaintext-AUTH network is configured.
        Assert.DoesNotContain(ehlo, l => l.Contains("AUTH", StringComparison.Ordinal));

        // CVE-2011-0411: the RSET arrives in clear text in the same segment as STARTTLS. It must never be answered
        // (over TLS it would look as if the client had sent it there).
        await SendAsync(net, "STARTTLS\r\nRSET\r\n");
        Assert.Equal("220 2.0.0 Ready to start TLS", await LineAsync(net));
        await using var tls = await ClientTlsAsync(net);

        // RFC 3207 §4.2: the EHLO before the handshake is forgotten. The first reply over TLS answers this MAIL, so
        // nothing was said about the RSET.
        await SendAsync(tls, "MAIL FROM:<a@client.test>\r\n");
        Assert.Equal(["503 5.5.1 Send HELO/EHLO first"], await ReplyAsync(tls));
        await SendAsync(tls, "EHLO client.test\r\n");
        ehlo = await ReplyAsync(tls);
        Assert.DoesNotContain(ehlo, l => l.Contains("STARTTLS", StringComparison.Ordinal));
        Assert.Equal("250 AUTH PLAIN LOGIN", ehlo[^1]);
        await SendAsync(tls, "STARTTLS\r\n");
        Assert.Equal(["503 5.5.1 TLS already active"], await ReplyAsync(tls));

        await SendAsync(tls, "AUTH PLAIN " + SessionSecurityTests.Plain("alice", "secret") + "\r\n");
        Assert.Equal(["235 2.7.0 Authentication successful"], await ReplyAsync(tls));
        await SendAsync(tls, "MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n");
        Assert.Equal(["250 2.1.0 Sender ok"], await ReplyAsync(tls));
        Assert.Equal(["250 2.1.5 Recipient ok"], await ReplyAsync(tls));
        Assert.Equal(["354 End data with <CR><LF>.<CR><LF>"], await ReplyAsync(tls));
        await SendAsync(tls, "Subject: over TLS\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        var queued = await ReplyAsync(tls);
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued[0], StringComparison.Ordinal);
        Assert.Equal(["221 2.0.0 Bye"], await ReplyAsync(tls));

        string id = SmtpScript.QueueIdFrom(queued);
        Assert.Equal("alice", _smtp.Spool.Get(id)!.Envelope.AuthenticatedUser);
        Assert.Contains("with ESMTPSA id", _smtp.MessageText(id), StringComparison.Ordinal);
        Assert.Contains(_smtp.Log.Lines, l => l.Contains("discarded 6 plaintext bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_TLS_an_outside_client_cannot_authenticate_or_relay()
    {
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(_plain);
        var net = tcp.GetStream();
        await LineAsync(net);
        await SendAsync(net, "EHLO client.test\r\n");
        await ReplyAsync(net);
        await SendAsync(net, "AUTH PLAIN " + SessionSecurityTests.Plain("alice", "secret") + "\r\n");
        Assert.Equal(["530 5.7.0 Must issue a STARTTLS command first"], await ReplyAsync(net));
        await SendAsync(net, "MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.example>\r\n");
        Assert.Equal(["250 2.1.0 Sender ok"], await ReplyAsync(net));
        Assert.Equal(["554 5.7.1 Relay access denied"], await ReplyAsync(net));
    }

    [Fact]
    public async Task An_implicit_TLS_listener_handshakes_before_the_greeting_and_offers_AUTH_not_STARTTLS()
    {
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(_implicit);
        await using var tls = await ClientTlsAsync(tcp.GetStream());
        Assert.Equal("220 mx.test ESMTP EdgeMail", await LineAsync(tls));
        await SendAsync(tls, "EHLO client.test\r\n");
        var ehlo = await ReplyAsync(tls);
        Assert.DoesNotContain(ehlo, l => l.Contains("STARTTLS", StringComparison.Ordinal));
        Assert.Equal("250 AUTH PLAIN LOGIN", ehlo[^1]);
        await SendAsync(tls, "QUIT\r\n");
        Assert.Equal(["221 2.0.0 Bye"], await ReplyAsync(tls));
    }

    [Fact]
    public async Task A_client_that_speaks_plaintext_to_the_implicit_TLS_port_is_closed_without_a_reply()
    {
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(_implicit);
        var net = tcp.GetStream();
        await SendAsync(net, "EHLO client.test\r\n");
        var buffer = new byte[256];
        int n;
        try
        {
            n = await net.ReadAsync(buffer);
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
