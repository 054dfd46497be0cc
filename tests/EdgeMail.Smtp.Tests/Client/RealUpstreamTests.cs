using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>The client against an upstream nobody here wrote: aiosmtpd (Debian python3-aiosmtpd) on loopback,
/// with STARTTLS required and AUTH. What it receives must be byte for byte what we sent.</summary>
public sealed class RealUpstreamTests
{
    // Not a timing assertion: a bound so that an upstream that stops answering fails this test in seconds
    // instead of holding the whole suite for RFC 5321's five minutes.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private const string Python = "/usr/bin/python3";   // Debian's, where python3-aiosmtpd is installed

    private static string ScriptPath([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "Support", "aiosmtpd_upstream.py");

    private sealed class Upstream : IAsyncDisposable
    {
        private readonly Process _process;
        public DirectoryInfo Dir { get; }
        public int Port { get; }

        private Upstream(Process process, DirectoryInfo dir, int port)
        {
            _process = process;
            Dir = dir;
            Port = port;
        }

        public static async Task<Upstream> StartAsync(DirectoryInfo dir, params string[] args)
        {
            var start = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(ScriptPath());
            start.ArgumentList.Add("--dir");
            start.ArgumentList.Add(dir.FullName);
            foreach (var a in args) start.ArgumentList.Add(a);
            var process = Process.Start(start)!;
            var line = await process.StandardOutput.ReadLineAsync();
            if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
            {
                var err = await process.StandardError.ReadToEndAsync();
                throw new InvalidOperationException($"aiosmtpd did not start: {line} {err}");
            }
            return new Upstream(process, dir, int.Parse(line[5..]));
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();   // the script stops when its stdin closes
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    [Fact]
    public async Task Delivers_byte_for_byte_over_STARTTLS_with_AUTH_and_reports_a_refused_recipient_on_its_own()
    {
        var dir = Directory.CreateTempSubdirectory("edgemail-smtpc-aiosmtpd-");
        try
        {
            using var cert = TestCertificate.SelfSigned("upstream.test");
            var (certFile, keyFile) = await TestCertificate.WritePemAsync(cert, dir);
            var inbox = dir.CreateSubdirectory("inbox");

            await using var upstream = await Upstream.StartAsync(inbox, "--cert", certFile, "--key", keyFile,
                "--user", "relay@lan", "--password", "s3cret", "--reject", "gone@x.test");

            var message = Encoding.UTF8.GetBytes(
                "From: a@lan\r\nTo: ok@x.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
                ".leading dot\r\n..two dots\r\n.\r\ncafé\r\n" + new string('x', 900) + "\r\nend\r\n");
            var options = new SmtpClientOptions
            {
                HeloName = "client.test",
                GreetingTimeout = Bound, MailTimeout = Bound, RcptTimeout = Bound, DataInitTimeout = Bound, DataBlockTimeout = Bound, DataTerminationTimeout = Bound,
                PinnedSha256 = Convert.ToHexString(cert.GetCertHash(HashAlgorithmName.SHA256)),
                Credentials = new PasswordCredentials("relay@lan", "s3cret"),
            };

            SmtpDeliveryResult result;
            await using (var session = await SmtpClientSession.ConnectAsync("127.0.0.1", upstream.Port, TlsMode.StartTlsRequired, options, CancellationToken.None))
            {
                Assert.True(session.IsEncrypted);
                Assert.True(session.IsAuthenticated);
                result = await session.SendAsync("a@lan", ["ok@x.test", "gone@x.test"], new MemoryStream(message), message.Length,
                    eightBit: true, smtpUtf8: false, CancellationToken.None);
                await session.QuitAsync(CancellationToken.None);
            }

            Assert.Equal([DeliveryClass.Sent, DeliveryClass.Failed], result.Recipients.Select(r => r.Class));
            Assert.Equal((550, "5.1.1"), (result.Recipients[1].Reply.Code, result.Recipients[1].Reply.Enhanced));
            Assert.Equal(message, await File.ReadAllBytesAsync(Path.Combine(inbox.FullName, "1.eml")));
            var envelope = await File.ReadAllLinesAsync(Path.Combine(inbox.FullName, "1.env"));
            Assert.Equal(["a@lan", "ok@x.test", $"SIZE={message.Length} BODY=8BITMIME", "tls relay@lan"], envelope);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_password_is_an_authentication_failure_from_a_real_server()
    {
        var dir = Directory.CreateTempSubdirectory("edgemail-smtpc-aiosmtpd-");
        try
        {
            using var cert = TestCertificate.SelfSigned("upstream.test");
            var (certFile, keyFile) = await TestCertificate.WritePemAsync(cert, dir);

            await using var upstream = await Upstream.StartAsync(dir.CreateSubdirectory("inbox"), "--cert", certFile, "--key", keyFile,
                "--user", "relay@lan", "--password", "s3cret");
            var options = new SmtpClientOptions
            {
                HeloName = "client.test",
                GreetingTimeout = Bound, MailTimeout = Bound,
                VerifyCertificate = false,
                Credentials = new PasswordCredentials("relay@lan", "wrong"),
            };

            var ex = await Assert.ThrowsAsync<SmtpClientException>(() =>
                SmtpClientSession.ConnectAsync("127.0.0.1", upstream.Port, TlsMode.StartTlsRequired, options, CancellationToken.None));
            Assert.Equal(SmtpFailureKind.AuthFailed, ex.Kind);
            Assert.Equal(535, ex.Reply!.Code);
            Assert.DoesNotContain("wrong", ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
