using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Relay.Tests;

/// <summary>Delivery to upstreams nobody here wrote (aiosmtpd, Postfix's smtp-sink), over loopback, through the
/// real spool and the real SMTP client. Retries move a manual clock; nothing sleeps.</summary>
public sealed class RealUpstreamTests
{
    private static byte[] Message(string subject, string extra = "") => Encoding.ASCII.GetBytes(
        "Received: from printer (printer [192.0.2.7]) by edge.test with ESMTP id TEST; Mon, 1 Jan 2026 12:00:00 +0000\r\n" +
        "From: alice@edge.test\r\nTo: bob@example.test\r\n" +
        $"Subject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@edge.test>\r\n\r\n" +
        "line one\r\n.leading dot\r\n..two dots\r\n.\r\n" + extra + "last line\r\n");

    private static RelayOptions Via(params UpstreamOptions[] upstreams) => new()
    {
        Upstreams = upstreams,
        HeloName = "edge.test",
        Jitter = 0,
    };

    [Fact]
    public async Task What_aiosmtpd_receives_is_byte_for_byte_the_spooled_message()
    {
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url() }));
        await relay.StartAsync();
        var message = Message("bytes", string.Concat(Enumerable.Repeat(new string('x', 998) + "\r\n", 50)));
        var (id, round) = await relay.QueueAsync("alice@edge.test", ["bob@example.test", "carol@example.test"], message);
        var spooled = relay.Bytes(id);
        await round;

        Assert.True(upstream.Received().Count == 1, string.Join('\n', relay.Log.Lines));
        var (envelope, data) = Assert.Single(upstream.Received());
        Assert.Equal(["alice@edge.test", "bob@example.test", "carol@example.test"], envelope);
        Assert.Equal(spooled, data);
        Assert.Null(relay.Spool.Get(id));
        Assert.Contains(relay.Log.Lines, l => l.StartsWith($"{id}: to=<bob@example.test>,<carol@example.test>, route=default, relay=127.0.0.1[127.0.0.1]:{upstream.Port}") && l.Contains("status=sent (250 2.0.0 Ok: queued as T1)"));
    }

    [Fact]
    public async Task A_message_with_a_line_over_the_SMTP_limit_is_bounced_with_the_upstream_reason()
    {
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url() }));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("long", new string('x', 5000) + "\r\n"));
        Assert.Null(relay.Spool.Get(id));
        Assert.Contains(relay.Log.Lines, l => l.StartsWith(id) && l.Contains("status=bounced (500 Line too long"));
        await relay.RoundDone(relay.BounceOf(id));
        Assert.Equal(["<>", "alice@edge.test"], Assert.Single(upstream.Received()).Envelope);
    }

    [Fact]
    public async Task STARTTLS_required_with_AUTH_from_the_secrets_file_and_a_pinned_CA_file()
    {
        using var cert = new TestCertificate();
        using var upstream = await AioUpstream.StartAsync("starttls", cert);
        var url = upstream.Url("smtp+starttls");
        var secrets = Path.Combine(cert.Dir, "secrets");
        File.WriteAllLines(secrets, [$"[{url}]", "user = relay", "password = pw"]);
        File.SetUnixFileMode(secrets, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = url, CaFile = cert.CertFile }],
            SecretsFile = secrets, HeloName = "edge.test", Jitter = 0,
        });
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("tls"));

        Assert.Single(upstream.Received());
        Assert.Null(relay.Spool.Get(id));
        Assert.DoesNotContain(relay.Log.Lines, l => l.Contains("pw"));
    }

    [Fact]
    public async Task An_untrusted_certificate_defers_with_a_reason_naming_the_host()
    {
        using var cert = new TestCertificate();
        using var upstream = await AioUpstream.StartAsync("starttls", cert);
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url("smtp+starttls"), User = "relay", Password = "pw" }));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("untrusted"));

        Assert.Empty(upstream.Received());
        var entry = relay.Spool.Get(id)!;
        Assert.Equal(RecipientStatus.Pending, entry.Recipients[0].Status);
        Assert.Contains("127.0.0.1", entry.LastError);
        Assert.Contains("certificate", entry.LastError, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>a.test through upstream A, b.test through upstream B, each with its own certificate checks.</summary>
    private static RelayOptions TwoRoutes(UpstreamOptions a, UpstreamOptions b) => new()
    {
        Routes =
        [
            new RouteRule { Pattern = "a.test", Upstreams = [a] },
            new RouteRule { Pattern = "b.test", Upstreams = [b] },
        ],
        HeloName = "edge.test",
        Jitter = 0,
    };

    private static string Sha256Of(TestCertificate cert) =>
        Convert.ToHexString(X509Certificate2.CreateFromPem(File.ReadAllText(cert.CertFile)).GetCertHash(HashAlgorithmName.SHA256));

    [Theory]
    [InlineData(true, "pinned fingerprint mismatch")]
    [InlineData(false, "RemoteCertificateChainErrors")]
    public async Task Each_upstream_is_checked_by_its_own_pin_or_CA_file_so_one_that_does_not_match_stops_only_that_one_naming_its_host(
        bool pin, string reason)
    {
        using var certA = new TestCertificate();
        using var certB = new TestCertificate();
        using var a = await AioUpstream.StartAsync("starttls", certA);
        using var b = await AioUpstream.StartAsync("starttls", certB);
        // Both are given A's pin (or A's self-signed certificate as their CA file): right for A, wrong for B.
        UpstreamOptions TrustingA(AioUpstream upstream) => new()
        {
            Url = upstream.Url("smtp+starttls"), User = "relay", Password = "pw",
            PinnedSha256 = pin ? Sha256Of(certA) : null,
            CaFile = pin ? null : certA.CertFile,
        };
        await using var relay = new SpoolRelay(TwoRoutes(TrustingA(a), TrustingA(b)));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@a.test", "carol@b.test"], Message("own trust"));

        Assert.Equal(["alice@edge.test", "bob@a.test"], Assert.Single(a.Received()).Envelope);
        Assert.Empty(b.Received());
        var (bob, carol) = (relay.Spool.Get(id)!.Recipients[0], relay.Spool.Get(id)!.Recipients[1]);
        Assert.Equal(RecipientStatus.Delivered, bob.Status);
        Assert.Equal(RecipientStatus.Pending, carol.Status);
        Assert.StartsWith($"upstream 127.0.0.1:{b.Port}: certificate verification failed: {reason}", carol.LastReply);
        if (pin) Assert.Contains(Sha256Of(certB), carol.LastReply);   // what B presented, to pin if it is the right one
    }

    [Fact]
    public async Task An_upstream_answering_451_then_250_gets_the_message_on_the_retry()
    {
        using var upstream = await AioUpstream.StartAsync("tempfail");
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url() }));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("retry"));
        var entry = relay.Spool.Get(id)!;
        Assert.Contains("451 4.3.0", entry.LastError);
        Assert.Equal(relay.Clock.GetUtcNow() + TimeSpan.FromMinutes(5), entry.NextAttempt);
        Assert.Contains(relay.Log.Lines, l => l.Contains("status=deferred (451 4.3.0 try again later)"));

        await relay.RetryAsync(id);
        Assert.Single(upstream.Received());
        Assert.Null(relay.Spool.Get(id));
    }

    [Fact]
    public async Task One_rejected_recipient_is_bounced_while_the_others_are_delivered()
    {
        using var upstream = await AioUpstream.StartAsync("reject");
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url() }));
        await relay.StartAsync();
        var (id, round) = await relay.QueueAsync("alice@edge.test", ["bob@example.test", "nobody@example.test"], Message("partial"));
        await round;
        Assert.Null(relay.Spool.Get(id));

        // The DSN is queued like any mail and relayed to the sender through the same upstream.
        await relay.RoundDone(relay.BounceOf(id));
        var received = upstream.Received();
        Assert.Equal(2, received.Count);
        Assert.Equal(["alice@edge.test", "bob@example.test"], received[0].Envelope);
        Assert.Equal(["<>", "alice@edge.test"], received[1].Envelope); // aiosmtpd writes the null path as "<>"
        var dsn = MimeMessage.Load(new MemoryStream(received[1].Data));
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal("rfc822; nobody@example.test", status.StatusGroups[1]["Final-Recipient"]);
        Assert.Equal("5.1.1", status.StatusGroups[1]["Status"]);
        Assert.Contains("Recipient address rejected", status.StatusGroups[1]["Diagnostic-Code"]);
        Assert.Equal("partial", Assert.IsType<TextRfc822Headers>(report[2]).Message!.Subject);
    }

    [Fact]
    public async Task A_connection_dropped_during_DATA_defers_and_the_retry_delivers()
    {
        using var upstream = await AioUpstream.StartAsync("drop");
        await using var relay = new SpoolRelay(Via(new UpstreamOptions { Url = upstream.Url() }));
        await relay.StartAsync();
        var message = Message("dropped");
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], message);
        Assert.Equal(RecipientStatus.Pending, relay.Spool.Get(id)!.Recipients[0].Status);

        await relay.RetryAsync(id);
        Assert.Equal(message, Assert.Single(upstream.Received()).Data);
        Assert.Null(relay.Spool.Get(id));
    }

    [Fact]
    public async Task XOAUTH2_gets_its_token_from_the_token_endpoint_with_the_refresh_token()
    {
        using var cert = new TestCertificate();
        using var upstream = await AioUpstream.StartAsync("xoauth2", cert);
        await using var relay = new SpoolRelay(Via(new UpstreamOptions
        {
            Url = upstream.Url("smtp+starttls"),
            CaFile = cert.CertFile,
            User = "bob@example.test",
            OAuth2 = new OAuth2Options
            {
                TokenEndpoint = $"http://127.0.0.1:{upstream.TokenPort}/token",
                ClientId = "edge-client",
                ClientSecret = "edge-secret",
                RefreshToken = "1//test-refresh-token",
            },
        }));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("oauth"));
        Assert.True(relay.Spool.Get(id) is null, string.Join('\n', relay.Log.Lines) + upstream.Stderr);
        Assert.Single(upstream.Received());
        Assert.DoesNotContain(relay.Log.Lines, l => l.Contains("test-refresh-token") || l.Contains("ya29."));
    }

    [Fact]
    public async Task Postfix_smtp_sink_takes_a_stream_of_messages_over_few_connections()
    {
        using var sink = await StartSmtpSinkAsync();
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = $"smtp://127.0.0.1:{sink.Port}" }],
            HeloName = "edge.test", Jitter = 0, MaxConnectionsPerRoute = 2,
        });
        await relay.StartAsync();
        var rounds = new List<Task>();
        for (var i = 0; i < 30; i++)
            rounds.Add((await relay.QueueAsync("alice@edge.test", [$"r{i}@example.test"], Message("sink " + i))).Round);
        await Task.WhenAll(rounds);
        Assert.Empty(relay.Spool.List());
        Assert.Equal(30, relay.Log.Lines.Count(l => l.Contains("status=sent")));
    }

    private sealed record Sink(HelperProcess Process, int Port) : IDisposable
    {
        public void Dispose() => Process.Dispose();
    }

    /// <summary>smtp-sink cannot report a port it chose, so pick a free one and retry if it was taken meanwhile.</summary>
    private static async Task<Sink> StartSmtpSinkAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = HelperProcess.FreePort();
            var p = await HelperProcess.StartAsync("/usr/sbin/smtp-sink", ["-u", "root", $"127.0.0.1:{port}", "100"], readLine: false);
            // Ready when it accepts a connection (a connect attempt, not a sleep).
            for (var i = 0; i < 200 && !p.HasExited; i++)
            {
                using var probe = new System.Net.Sockets.TcpClient();
                try
                {
                    await probe.ConnectAsync(System.Net.IPAddress.Loopback, port);
                    return new Sink(p, port);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    await Task.Yield();
                }
            }
            p.Dispose();
            if (attempt == 5) throw new InvalidOperationException("smtp-sink did not start: " + p.Stderr);
        }
    }
}
