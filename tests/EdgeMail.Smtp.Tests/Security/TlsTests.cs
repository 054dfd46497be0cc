using EdgeMail.Smtp.Replies;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Security;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ServerCertificateProviderTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("edgemail-state-").FullName;
    public void Dispose() => Directory.Delete(_state, recursive: true);
    private string SelfSignedPath => Path.Combine(_state, "tls", "selfsigned.pem");

    [Fact]
    public void Without_configured_files_a_self_signed_P256_certificate_for_the_host_name_is_generated()
    {
        var time = new ManualTime();
        var c = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan", time);
        Assert.True(c.SelfSigned);
        Assert.Equal(SelfSignedPath, c.Path);
        var cert = c.Certificate;
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("CN=relay.lan", cert.Subject);
        Assert.True(cert.MatchesHostname("relay.lan", allowWildcards: false, allowCommonName: false)); // via the SAN
        using var key = cert.GetECDsaPublicKey()!;
        Assert.Equal(256, key.KeySize);
        Assert.Equal("1.2.840.10045.3.1.7", key.ExportParameters(false).Curve.Oid.Value); // secp256r1 = P-256
        Assert.InRange((cert.NotAfter.ToUniversalTime() - time.GetUtcNow().UtcDateTime).TotalDays, 2 * 365, 5 * 365);
    }

    [Fact]
    public void The_key_file_is_0600_in_a_0700_folder()
    {
        ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SelfSignedPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(SelfSignedPath)!));
        Assert.Contains("PRIVATE KEY", File.ReadAllText(SelfSignedPath));
    }

    [Fact]
    public void The_next_start_reuses_the_stored_certificate()
    {
        var first = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        var second = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        Assert.Equal(first.Sha256Fingerprint, second.Sha256Fingerprint);
    }

    [Fact]
    public void A_stored_certificate_for_another_host_or_near_expiry_is_replaced()
    {
        var time = new ManualTime();
        var first = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan", time);
        var renamed = ServerCertificateProvider.Resolve(null, null, _state, "mail.lan", time);
        Assert.NotEqual(first.Sha256Fingerprint, renamed.Sha256Fingerprint);
        time.Advance(TimeSpan.FromDays(3 * 365 - 10));
        var renewed = ServerCertificateProvider.Resolve(null, null, _state, "mail.lan", time);
        Assert.NotEqual(renamed.Sha256Fingerprint, renewed.Sha256Fingerprint);
        Assert.True(renewed.Certificate.NotAfter.ToUniversalTime() > time.GetUtcNow().UtcDateTime.AddYears(2));
    }

    [Fact]
    public void A_damaged_stored_certificate_is_replaced_and_a_loosened_mode_is_tightened()
    {
        ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        File.SetUnixFileMode(SelfSignedPath, (UnixFileMode)0b110_100_100);
        var again = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SelfSignedPath));
        File.WriteAllText(SelfSignedPath, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
        var replaced = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        Assert.NotEqual(again.Sha256Fingerprint, replaced.Sha256Fingerprint);
        Assert.True(replaced.Certificate.HasPrivateKey);
    }

    [Fact]
    public void An_IP_address_host_name_gets_an_IP_SAN()
    {
        var c = ServerCertificateProvider.Resolve(null, null, _state, "192.168.1.2");
        Assert.True(c.Certificate.MatchesHostname("192.168.1.2"));
    }

    [Fact]
    public void Configured_PEM_files_are_loaded_with_the_key_apart_or_in_the_same_file()
    {
        using var made = ServerCertificateProvider.CreateSelfSigned("mx.example", DateTimeOffset.UtcNow);
        using var key = made.GetECDsaPrivateKey()!;
        string certPath = Path.Combine(_state, "cert.pem"), keyPath = Path.Combine(_state, "key.pem"), both = Path.Combine(_state, "both.pem");
        File.WriteAllText(certPath, made.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(both, made.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem());

        var apart = ServerCertificateProvider.Resolve(certPath, keyPath, _state, "ignored");
        Assert.False(apart.SelfSigned);
        Assert.True(apart.Certificate.HasPrivateKey);
        Assert.Equal(made.Thumbprint, apart.Certificate.Thumbprint);
        Assert.Equal(made.Thumbprint, ServerCertificateProvider.Resolve(both, null, _state, "ignored").Certificate.Thumbprint);
        Assert.False(Directory.Exists(Path.Combine(_state, "tls"))); // nothing generated
    }

    [Fact]
    public void A_configured_certificate_without_its_key_fails_at_start_naming_the_file()
    {
        using var made = ServerCertificateProvider.CreateSelfSigned("mx.example", DateTimeOffset.UtcNow);
        string certPath = Path.Combine(_state, "cert.pem");
        File.WriteAllText(certPath, made.ExportCertificatePem());
        var e = Assert.ThrowsAny<CryptographicException>(() => ServerCertificateProvider.Resolve(certPath, null, _state, "x"));
        Assert.Contains(certPath, e.Message);
        Assert.ThrowsAny<CryptographicException>(() => ServerCertificateProvider.Resolve(Path.Combine(_state, "missing.pem"), null, _state, "x"));
    }

    [Fact]
    public void The_fingerprint_is_the_SHA256_that_openssl_prints()
    {
        var c = ServerCertificateProvider.Resolve(null, null, _state, "relay.lan");
        var psi = new ProcessStartInfo("openssl", ["x509", "-in", SelfSignedPath, "-noout", "-fingerprint", "-sha256"]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(output[(output.IndexOf('=') + 1)..], c.Sha256Fingerprint);
    }
}

/// <summary>STARTTLS over a real loopback socket with a real handshake.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StartTlsTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("edgemail-tls-").FullName;
    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void The_TLS_options_allow_only_TLS_1_2_and_1_3_and_no_renegotiation()
    {
        var cert = ServerCertificateProvider.Resolve(null, null, _state, "localhost").Certificate;
        var o = TlsServerOptions.Create(cert);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, o.EnabledSslProtocols);
        Assert.False(o.AllowRenegotiation);
        Assert.False(o.ClientCertificateRequired);
        Assert.NotNull(o.ServerCertificateContext);
    }

    [Theory]
    [InlineData(false, false, true, null)]
    [InlineData(false, true, true, "501 5.5.4")]
    [InlineData(true, false, true, "503 5.5.1")]
    [InlineData(false, false, false, "454 4.7.0")]
    public void STARTTLS_is_refused_with_parameters_when_already_active_or_unavailable(bool active, bool parameters, bool available, string? reply)
    {
        var r = StartTls.Check(active, parameters, available);
        Assert.Equal(reply, r is null ? null : $"{SmtpReplies.Get(r.Value).Code} {SmtpReplies.Get(r.Value).EnhancedCode}");
    }

    [Fact]
    public async Task Plaintext_pipelined_after_STARTTLS_is_discarded_and_never_executed_over_TLS()
    {
        var serverCert = ServerCertificateProvider.Resolve(null, null, _state, "localhost");
        var options = TlsServerOptions.Create(serverCert.Certificate);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var serverTask = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var net = new NetworkStream(socket, ownsSocket: true);
            // The session's fixed input buffer, with the unread region [start, end).
            byte[] buffer = new byte[4096];
            int start = 0, end = 0;
            // The attack: one TCP segment carrying STARTTLS and an injected command. Read until both
            // are buffered so the test does not depend on how TCP splits them.
            while (buffer.AsSpan(0, end).IndexOf("RCPT TO:<victim@example.net>\r\n"u8) < 0)
                end += await net.ReadAsync(buffer.AsMemory(end));
            int lineEnd = buffer.AsSpan(start, end - start).IndexOf("\r\n"u8);
            Assert.Equal("STARTTLS", Encoding.ASCII.GetString(buffer, start, lineEnd));
            start += lineEnd + 2;
            Assert.Null(StartTls.Check(tlsActive: false, hasParameters: false, tlsAvailable: true));

            await net.WriteAsync(Encoding.ASCII.GetBytes(SmtpReplies.Get(SmtpReplyKind.ReadyToStartTls) + "\r\n"));
            int dropped = StartTls.DiscardPipelinedPlaintext(ref start, ref end);
            await using var tls = await StartTls.HandshakeAsync(net, options, TimeSpan.FromSeconds(30), CancellationToken.None);

            // The first command over TLS is what the client sent over TLS, not the injected one.
            while (buffer.AsSpan(start, end - start).IndexOf("\r\n"u8) < 0)
            {
                int n = await tls.ReadAsync(buffer.AsMemory(end));
                if (n == 0) break;
                end += n;
            }
            string first = Encoding.ASCII.GetString(buffer, start, buffer.AsSpan(start, end - start).IndexOf("\r\n"u8));
            await tls.WriteAsync("250 ok\r\n"u8.ToArray());
            return (dropped, first, tls.SslProtocol);
        });

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        byte[] injected = "STARTTLS\r\nMAIL FROM:<attacker@example.org>\r\nRCPT TO:<victim@example.net>\r\n"u8.ToArray();
        await stream.WriteAsync(injected);
        Assert.Equal("220 2.0.0 Ready to start TLS", await WireClient.ReadLineAsync(stream));

        string? seenFingerprint = null;
        await using var clientTls = new SslStream(stream, false, (_, cert, _, _) =>
        {
            seenFingerprint = ServerCertificateProvider.Sha256Fingerprint(new X509Certificate2(cert!));
            return true; // self-signed: the client pins by fingerprint, checked below
        });
        await clientTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        await clientTls.WriteAsync("EHLO client.example\r\n"u8.ToArray());
        Assert.Equal("250 ok", await WireClient.ReadLineAsync(clientTls));

        var (dropped, first, protocol) = await serverTask;
        Assert.Equal(injected.Length - "STARTTLS\r\n".Length, dropped);
        Assert.Equal("EHLO client.example", first);
        Assert.True(protocol is SslProtocols.Tls12 or SslProtocols.Tls13);
        Assert.Equal(serverCert.Sha256Fingerprint, seenFingerprint);
    }

    [Fact]
    public async Task A_client_that_never_starts_the_handshake_is_cut_off_by_the_timeout()
    {
        var options = TlsServerOptions.Create(ServerCertificateProvider.Resolve(null, null, _state, "localhost").Certificate);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var socket = await listener.AcceptSocketAsync();
        // A zero timeout makes the outcome deterministic: no client can finish a handshake in no time.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            StartTls.HandshakeAsync(new NetworkStream(socket, ownsSocket: false), options, TimeSpan.Zero, CancellationToken.None));
    }
}

public class AuthRulesTests
{
    [Theory]
    [InlineData(true, false, AuthPermission.Allowed, false, true, "503 5.5.1")]
    [InlineData(false, true, AuthPermission.Allowed, false, true, "503 5.5.1")]
    [InlineData(false, false, AuthPermission.EncryptionRequired, false, true, "530 5.7.0")]
    [InlineData(false, false, AuthPermission.Allowed, true, true, "421 4.7.0")]
    [InlineData(false, false, AuthPermission.Allowed, false, false, "504 5.5.4")]
    [InlineData(false, false, AuthPermission.Allowed, false, true, null)]
    public void AUTH_may_start_only_once_outside_a_transaction_over_TLS_or_an_allowed_network(
        bool authenticated, bool inTransaction, AuthPermission permission, bool blocked, bool known, string? expected)
    {
        var r = AuthRules.Check(authenticated, inTransaction, permission, blocked, known);
        Assert.Equal(expected, r is null ? null : $"{SmtpReplies.Get(r.Value).Code} {SmtpReplies.Get(r.Value).EnhancedCode}");
    }
}
