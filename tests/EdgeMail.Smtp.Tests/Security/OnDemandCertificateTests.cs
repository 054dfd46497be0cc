using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Security;

/// <summary>
/// SmtpServerOptions.CertificateSource: the generated self-signed certificate is made at the first TLS handshake,
/// not at start-up, so a daemon whose clients never ask for TLS never loads OpenSSL. Real listener, real sockets.
/// </summary>
public sealed class OnDemandCertificateTests : IAsyncDisposable
{
    private readonly SmtpScript _smtp;
    private readonly SmtpListener _listener;
    private readonly IPEndPoint _plain;
    private int _calls;
    private Func<X509Certificate2> _make = () => ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);

    public OnDemandCertificateTests()
    {
        _smtp = new SmtpScript(o => o.CertificateSource = () =>
        {
            Interlocked.Increment(ref _calls);
            return _make();
        });
        _listener = new SmtpListener([new ListenerEndpoint(new IPEndPoint(IPAddress.Loopback, 0))], _smtp.Options, _smtp.Spool, _smtp.Log);
        _plain = _listener.Start()[0];
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
        _smtp.Options.Certificate?.Dispose();
        _smtp.Dispose();
    }

    [Fact]
    public async Task STARTTLS_is_offered_before_the_certificate_exists_and_it_is_made_once_at_the_first_handshake()
    {
        await using (var first = await ConnectAsync())
        {
            var ehlo = await first.CommandAsync("EHLO client.test");
            Assert.Contains(ehlo, l => l[4..] == "STARTTLS");
            Assert.Equal(0, _calls);
            await first.StartTlsAsync();
            Assert.Equal(1, _calls);
        }
        await using (var second = await ConnectAsync())
        {
            await second.CommandAsync("EHLO client.test");
            await second.StartTlsAsync();
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
        Assert.Contains(_smtp.Log.Lines, l => l.Contains("no entropy today", StringComparison.Ordinal));
        Assert.Equal(["250 2.0.0 Ok"], await c.CommandAsync("NOOP"));

        _make = () => ServerCertificateProvider.CreateSelfSigned("localhost", DateTimeOffset.UtcNow);
        await c.StartTlsAsync();
        Assert.Equal(2, _calls);
    }

    private async Task<Client> ConnectAsync()
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(_plain);
        var c = new Client(tcp);
        Assert.StartsWith("220 ", (await c.ReplyAsync())[0], StringComparison.Ordinal);
        return c;
    }

    private sealed class Client(TcpClient tcp) : IAsyncDisposable
    {
        private Stream _stream = tcp.GetStream();

        public async Task<List<string>> CommandAsync(string line)
        {
            await _stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
            return await ReplyAsync();
        }

        public async Task StartTlsAsync()
        {
            Assert.Equal(["220 2.0.0 Ready to start TLS"], await CommandAsync("STARTTLS"));
            var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, _, _, _) => true, // the certificate's origin is not under test
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            });
            _stream = ssl;
            Assert.Equal("250 mx.test", (await CommandAsync("EHLO client.test"))[0][..11].Replace('-', ' '));
        }

        /// <summary>All lines of one reply, read byte by byte so nothing meant for the TLS handshake is read ahead.</summary>
        public async Task<List<string>> ReplyAsync()
        {
            var lines = new List<string>();
            var sb = new StringBuilder();
            var one = new byte[1];
            while (await _stream.ReadAsync(one) == 1)
            {
                if (one[0] != '\n') { sb.Append((char)one[0]); continue; }
                string line = sb.ToString().TrimEnd('\r');
                sb.Clear();
                lines.Add(line);
                if (line.Length < 4 || line[3] != '-') break;
            }
            return lines;
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            tcp.Dispose();
        }
    }
}
