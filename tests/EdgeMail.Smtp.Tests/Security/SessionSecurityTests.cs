using System.Net;
using System.Text;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Security;

/// <summary>
/// The security components wired into the session, as transcripts (RFC 4954 AUTH, relay policy, rate limits).
/// The client is 192.0.2.10 (outside loopback) unless a test moves it; throttles have no delay, so no test sleeps.
/// </summary>
public sealed class SessionSecurityTests : IDisposable
{
    /// <summary>The greeting, then EHLO client.test answered with AUTH offered (plaintext AUTH is allowed here).</summary>
    private const string HelloOfferingAuth = $"""
        {Dialogue.Greeting}
        C: EHLO client.test
        {Dialogue.EhloReplyBeforeLast}
        S: 250-CHUNKING
        S: 250 AUTH PLAIN LOGIN
        """;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "edgemail-secsession-" + Guid.NewGuid().ToString("N"));

    public SessionSecurityTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A users file with alice/secret at the lowest iteration count (the hash's cost is not under test here).</summary>
    private UserStore Users()
    {
        string path = Path.Combine(_folder, "users");
        File.WriteAllText(path, "alice:" + PasswordHash.Create("secret"u8, PasswordHash.MinIterations) + "\n");
        return new UserStore(path);
    }

    internal static string Plain(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes("\0" + user + "\0" + password));

    internal static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static RelayPolicy Policy(string? plaintextAuthNetwork = null) => new(new RelayPolicyOptions
    {
        LocalDomains = new DomainList(["mx.test"]),
        PlaintextAuthNetworks = plaintextAuthNetwork is null ? NetworkList.Empty : NetworkList.Parse([plaintextAuthNetwork]),
    });

    private static AuthThrottle NoDelayThrottle(int maxFailures = 10) =>
        new(new AuthThrottleOptions { BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, MaxFailures = maxFailures });

    /// <summary>A session where alice/secret may authenticate over plaintext: the client's network 192.0.2.0/24 is a
    /// plaintext-AUTH network; <paramref name="throttle"/> is a no-delay one with 10 failures allowed unless a test says otherwise.</summary>
    private SmtpScript PlaintextAuthFromTheClientsNetwork(AuthThrottle? throttle = null) => new(o =>
    {
        o.Users = Users();
        o.Policy = Policy("192.0.2.0/24");
        o.Throttle = throttle ?? NoDelayThrottle();
    });

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task AUTH_is_not_offered_over_plaintext_and_answers_530_before_TLS(Feed feed)
    {
        using var smtp = new SmtpScript(o =>
        {
            o.Users = Users();
            o.Policy = Policy();
        });
        await smtp.RunAsync($"""
            S: 220 mx.test ESMTP EdgeMail
            C: EHLO client.test
            {Dialogue.EhloReplyBeforeLast}
            S: 250 CHUNKING
            C: AUTH PLAIN {Plain("alice", "secret")}
            S: 530 5.7.0 Must issue a STARTTLS command first
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task AUTH_PLAIN_succeeds_over_plaintext_from_a_configured_network_and_the_user_may_relay(Feed feed)
    {
        using var smtp = PlaintextAuthFromTheClientsNetwork();
        var lines = await smtp.RunAsync($"""
            {HelloOfferingAuth}
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<someone@elsewhere.example>
            S: 554 5.7.1 Relay access denied
            C: RSET
            S: 250 2.0.0 Ok
            C: AUTH PLAIN {Plain("alice", "secret")}
            S: 235 2.7.0 Authentication successful
            C: AUTH PLAIN {Plain("alice", "secret")}
            S: 503 5.5.1 Already authenticated
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<someone@elsewhere.example>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: hi
            C:
            C: hello
            C: .
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        string id = SmtpScript.QueueIdFrom(lines);
        Assert.Equal("alice", smtp.Spool.Get(id)!.Envelope.AuthenticatedUser);
        Assert.Contains("with ESMTPA id", smtp.MessageText(id), StringComparison.Ordinal);
        // Secrets never logged: neither the password nor the base64 that carries it.
        Assert.DoesNotContain(smtp.Log.Lines, l => l.Contains("secret", StringComparison.Ordinal) || l.Contains(Plain("alice", "secret"), StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task AUTH_LOGIN_succeeds_through_its_two_challenges(Feed feed)
    {
        using var smtp = PlaintextAuthFromTheClientsNetwork();
        await smtp.RunAsync($"""
            {HelloOfferingAuth}
            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: {B64("alice")}
            S: 334 UGFzc3dvcmQ6
            C: {B64("secret")}
            S: 235 2.7.0 Authentication successful
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_wrong_password_gets_535_and_too_many_get_421_and_close(Feed feed)
    {
        using var smtp = PlaintextAuthFromTheClientsNetwork(NoDelayThrottle(maxFailures: 2));
        await smtp.RunAsync($"""
            {HelloOfferingAuth}
            C: AUTH PLAIN {Plain("alice", "wrong")}
            S: 535 5.7.8 Authentication credentials invalid
            C: AUTH LOGIN {B64("alice")}
            S: 334 UGFzc3dvcmQ6
            C: {B64("guess")}
            S: 535 5.7.8 Authentication credentials invalid
            C: AUTH PLAIN {Plain("alice", "third")}
            S: 421 4.7.0 Too many authentication failures, closing connection
            C: NOOP
            """, feed);
        Assert.DoesNotContain(smtp.Log.Lines, l => l.Contains("wrong", StringComparison.Ordinal) || l.Contains("guess", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_user_name_that_could_inject_a_log_line_is_not_logged()
    {
        using var smtp = PlaintextAuthFromTheClientsNetwork();
        await smtp.RunAsync($"""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: AUTH PLAIN {Plain("x\r\nforged log line", "pw")}
            S: 535 5.7.8 Authentication credentials invalid
            """, Feed.Whole);
        Assert.DoesNotContain(smtp.Log.Lines, l => l.Contains("forged", StringComparison.Ordinal));
        Assert.Contains(smtp.Log.Lines, l => l.Contains("user=(invalid name)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_blocked_address_is_refused_421_before_any_password_is_read()
    {
        var throttle = NoDelayThrottle(maxFailures: 1);
        throttle.RecordFailure(SmtpScript.Client.Address);
        throttle.RecordFailure(SmtpScript.Client.Address);
        using var smtp = PlaintextAuthFromTheClientsNetwork(throttle);
        await smtp.RunAsync($"""
            {HelloOfferingAuth}
            C: AUTH PLAIN {Plain("alice", "secret")}
            S: 421 4.7.0 Too many authentication failures, closing connection
            """, Feed.Whole);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task AUTH_cancelled_malformed_or_unknown_mechanism_gets_its_own_reply(Feed feed)
    {
        using var smtp = PlaintextAuthFromTheClientsNetwork();
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: AUTH PLAIN
            S: 503 5.5.1 Send HELO/EHLO first
            C: HELO client.test
            S: 250 mx.test
            C: AUTH CRAM-MD5
            S: 504 5.5.4 Unrecognized authentication type
            C: AUTH PLAIN
            S: 334 
            C: *
            S: 501 5.7.0 Authentication cancelled
            C: AUTH PLAIN !!!notbase64
            S: 501 5.5.2 Cannot decode response
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: AUTH PLAIN
            S: 503 5.5.1 Sender already specified
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
    }

    [Fact]
    public async Task Without_a_users_file_AUTH_is_not_implemented()
    {
        using var smtp = new SmtpScript();
        await smtp.RunAsync($"""
            S: 220 mx.test ESMTP EdgeMail
            C: EHLO client.test
            {Dialogue.EhloReplyBeforeLast}
            S: 250 CHUNKING
            C: AUTH PLAIN {Plain("alice", "secret")}
            S: 502 5.5.1 Command not implemented
            C: STARTTLS
            S: 502 5.5.1 Command not implemented
            C: QUIT
            S: 221 2.0.0 Bye
            """, Feed.Whole);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task An_outside_client_may_send_to_local_domains_only_554_5_7_1_for_the_rest(Feed feed)
    {
        using var smtp = new SmtpScript(o => o.Policy = Policy());
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<victim@elsewhere.example>
            S: 554 5.7.1 Relay access denied
            C: RCPT TO:<postmaster@mx.test>
            S: 250 2.1.5 Recipient ok
            C: RCPT TO:<postmaster>
            S: 250 2.1.5 Recipient ok
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Contains(smtp.Log.Lines, l => l.Contains("RelayDenied", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task A_client_in_the_allowed_networks_may_relay_by_default_loopback(string address)
    {
        using var smtp = new SmtpScript(o => o.Policy = Policy());
        smtp.Remote = new IPEndPoint(IPAddress.Parse(address), 40000);
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<someone@elsewhere.example>
            S: 250 2.1.5 Recipient ok
            C: QUIT
            S: 221 2.0.0 Bye
            """, Feed.Whole);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task Messages_over_the_per_address_rate_get_450_4_7_1(Feed feed)
    {
        var time = new ManualTime();
        using var smtp = new SmtpScript(o => o.Limits = new RateLimiter(new RateLimitOptions { MessagesPerMinutePerAddress = 1 }, time));
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@client.test>
            S: 250 2.1.0 Sender ok
            C: RSET
            S: 250 2.0.0 Ok
            C: MAIL FROM:<a@client.test>
            S: 450 4.7.1 Message rate limit exceeded, try again later
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
    }
}
