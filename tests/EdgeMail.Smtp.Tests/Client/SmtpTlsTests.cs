using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>STARTTLS and implicit TLS against a real SslStream server on loopback with a throwaway ECDSA
/// certificate: verification is on by default, and its failure names the host and the reason.</summary>
public sealed class SmtpTlsTests
{
    /// <summary>Writes <paramref name="cert"/> as a CA file into a fresh temporary folder and runs <paramref name="test"/>
    /// with the file's path; the folder is removed afterwards.</summary>
    private static async Task WithCaFileAsync(X509Certificate2 cert, Func<string, Task> test)
    {
        var dir = Directory.CreateTempSubdirectory("edgemail-smtpc-");
        try
        {
            var caFile = Path.Combine(dir.FullName, "ca.pem");
            await File.WriteAllTextAsync(caFile, cert.ExportCertificatePem());
            await test(caFile);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>A minimal SMTP server: greeting, EHLO offering STARTTLS, TLS, EHLO offering AUTH PLAIN, then it
    /// answers AUTH with 235 and QUIT with 221. Returns the port and the task serving one connection.</summary>
    private static (int Port, Task Served) Serve(X509Certificate2 cert, bool implicitTls)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = Task.Run(async () =>
        {
            try
            {
                using var tcp = await listener.AcceptTcpClientAsync();
                Stream stream = tcp.GetStream();
                if (implicitTls) stream = await Handshake(stream, cert);
                await Write(stream, "220 mx.test ESMTP\r\n");
                await ReadLine(stream);   // EHLO
                if (!implicitTls)
                {
                    await Write(stream, "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
                    Assert.Equal("STARTTLS", await ReadLine(stream));
                    await Write(stream, "220 2.0.0 ready\r\n");
                    stream = await Handshake(stream, cert);
                    // With TLS 1.3 our side of the handshake ends before the client has judged the certificate;
                    // a client that refused it just closes.
                    if (await ReadLine(stream) is not { } ehlo) return;
                    Assert.StartsWith("EHLO ", ehlo);
                }
                await Write(stream, "250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n");
                while (await ReadLine(stream) is { } line)
                {
                    if (line.StartsWith("AUTH PLAIN ", StringComparison.Ordinal)) await Write(stream, "235 2.7.0 ok\r\n");
                    else if (line == "QUIT") { await Write(stream, "221 bye\r\n"); break; }
                    else await Write(stream, "502 5.5.1 not in this test\r\n");
                }
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException)
            {
                // The client refused our certificate: that is what some tests expect.
            }
            finally
            {
                listener.Stop();
            }
        });
        return (port, served);
    }

    private static async Task<Stream> Handshake(Stream stream, X509Certificate2 cert)
    {
        var ssl = new SslStream(stream);
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = cert,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        return ssl;
    }

    private static Task Write(Stream s, string text) => s.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    private static async Task<string?> ReadLine(Stream s)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await s.ReadAsync(one) == 1)
        {
            if (one[0] == '\n') return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
        return null;
    }

    private static SmtpClientOptions Options(string? pin = null, string? caFile = null, bool verify = true, SmtpCredentials? credentials = null) => new()
    {
        HeloName = "client.test",
        PinnedSha256 = pin,
        CaFile = caFile,
        VerifyCertificate = verify,
        Credentials = credentials,
    };

    private static string Colons(byte[] hash) => string.Join(':', hash.Select(b => b.ToString("X2")));

    [Fact]
    public async Task An_untrusted_certificate_fails_verification_with_host_and_reason()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: false);
        var (port, served) = Serve(cert, implicitTls: false);

        var ex = await Assert.ThrowsAsync<SmtpClientException>(() =>
            SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.StartTlsRequired, Options(), CancellationToken.None));
        await served;

        Assert.Equal(SmtpFailureKind.CertificateVerification, ex.Kind);
        Assert.Equal($"127.0.0.1:{port}", ex.Host);
        Assert.StartsWith($"upstream 127.0.0.1:{port}: certificate verification failed: RemoteCertificateNameMismatch (certificate is for CN=foo.example", ex.Message);
        Assert.Contains("RemoteCertificateChainErrors", ex.Message);
    }

    [Fact]
    public async Task A_pinned_fingerprint_accepts_a_self_signed_certificate_and_EHLO_is_asked_again_inside_TLS()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: false);
        var (port, served) = Serve(cert, implicitTls: false);

        await using (var session = await SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.StartTlsRequired,
            Options(pin: Colons(cert.GetCertHash(HashAlgorithmName.SHA256)), credentials: new PasswordCredentials("u", "p")), CancellationToken.None))
        {
            Assert.True(session.IsEncrypted);
            Assert.True(session.IsAuthenticated);   // PLAIN, allowed because the channel is encrypted
            Assert.Equal(SaslMechanisms.Plain, session.Capabilities.AuthMechanisms);   // from the second EHLO
            Assert.False(session.Capabilities.Has(SmtpExtensions.StartTls));
            await session.QuitAsync(CancellationToken.None);
        }
        await served;
    }

    [Fact]
    public async Task A_different_pinned_fingerprint_refuses_the_certificate()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: true);
        var (port, served) = Serve(cert, implicitTls: false);

        var ex = await Assert.ThrowsAsync<SmtpClientException>(() =>
            SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.StartTlsRequired, Options(pin: new string('a', 64)), CancellationToken.None));
        await served;

        Assert.Equal(SmtpFailureKind.CertificateVerification, ex.Kind);
        Assert.Contains("pinned fingerprint mismatch", ex.Message);
    }

    [Fact]
    public async Task An_extra_CA_file_makes_the_upstreams_certificate_trusted()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: true);
        await WithCaFileAsync(cert, async caFile =>
        {
            var (port, served) = Serve(cert, implicitTls: false);

            await using (var session = await SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.StartTlsRequired, Options(caFile: caFile), CancellationToken.None))
            {
                Assert.True(session.IsEncrypted);
                await session.QuitAsync(CancellationToken.None);
            }
            await served;
        });
    }

    [Fact]
    public async Task A_resolved_address_is_dialled_while_TLS_verifies_the_host_name()
    {
        using var cert = TestCertificate.SelfSigned("mx.example", withLoopbackIp: false);
        await WithCaFileAsync(cert, async caFile =>
        {
            var (port, served) = Serve(cert, implicitTls: false);

            await using (var session = await SmtpClientSession.ConnectAsync("mx.example", IPAddress.Loopback, port, TlsMode.StartTlsRequired,
                Options(caFile: caFile), CancellationToken.None))
            {
                Assert.True(session.IsEncrypted);
                Assert.Equal($"mx.example[127.0.0.1]:{port}", session.RemoteHost);
                await session.QuitAsync(CancellationToken.None);
            }
            await served;
        });
    }

    [Fact]
    public async Task Implicit_TLS_speaks_TLS_from_the_first_byte()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: false);
        var (port, served) = Serve(cert, implicitTls: true);

        await using (var session = await SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.Implicit,
            Options(pin: Convert.ToHexString(cert.GetCertHash(HashAlgorithmName.SHA256)).ToLowerInvariant()), CancellationToken.None))
        {
            Assert.True(session.IsEncrypted);
            await session.QuitAsync(CancellationToken.None);
        }
        await served;
    }

    [Fact]
    public async Task Verification_can_be_switched_off_per_route()
    {
        using var cert = TestCertificate.SelfSigned("foo.example", withLoopbackIp: false);
        var (port, served) = Serve(cert, implicitTls: false);

        await using (var session = await SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.Opportunistic, Options(verify: false), CancellationToken.None))
        {
            Assert.True(session.IsEncrypted);
            await session.QuitAsync(CancellationToken.None);
        }
        await served;
    }

    [Fact]
    public async Task A_refused_connection_is_a_connect_failure_naming_the_host()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();   // nothing listens there now

        var ex = await Assert.ThrowsAsync<SmtpClientException>(() =>
            SmtpClientSession.ConnectAsync("127.0.0.1", port, TlsMode.None, Options(), CancellationToken.None));
        Assert.Equal(SmtpFailureKind.Connect, ex.Kind);
        Assert.StartsWith($"upstream 127.0.0.1:{port}: cannot connect", ex.Message);
    }

    [Theory]
    [InlineData("AB:CD")]
    [InlineData("zz")]
    public void A_malformed_pin_is_a_configuration_error(string pin) =>
        Assert.Throws<ArgumentException>(() => CertificateVerifier.ParseFingerprint(pin));
}
