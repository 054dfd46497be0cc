using EdgeMail.Smtp.Replies;
using System.Net;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Tests.Security;

public class RateLimiterTests
{
    private static readonly IPAddress A = IPAddress.Parse("192.168.1.10");
    private static readonly IPAddress B = IPAddress.Parse("192.168.1.11");

    [Fact]
    public void Connections_per_address_are_limited_and_released_on_close()
    {
        var limiter = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = 2 });
        Assert.True(limiter.TryOpenConnection(A, out var first));
        Assert.True(limiter.TryOpenConnection(A, out var second));
        Assert.False(limiter.TryOpenConnection(A, out var refused));
        Assert.Null(refused);
        Assert.True(limiter.TryOpenConnection(B, out var other)); // another client is not affected
        first.Dispose();
        first.Dispose(); // idempotent: a double dispose must not free a slot twice
        Assert.True(limiter.TryOpenConnection(A, out var third));
        Assert.False(limiter.TryOpenConnection(A, out _));
        second.Dispose(); third!.Dispose(); other.Dispose();
        Assert.Equal(0, limiter.TrackedConnectionAddresses);
    }

    [Fact]
    public void A_flood_of_1000_connections_from_other_addresses_does_not_lock_out_a_legitimate_client_and_leaves_nothing_behind()
    {
        var limiter = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = 2 });
        var leases = new List<ConnectionLease>();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(limiter.TryOpenConnection(new IPAddress(BitConverter.GetBytes(0x0C000000 + i)), out var l));
            leases.Add(l);
        }
        Assert.True(limiter.TryOpenConnection(A, out var legit));
        legit.Dispose();
        leases.ForEach(l => l.Dispose());
        Assert.Equal(0, limiter.TrackedConnectionAddresses);
    }

    [Fact]
    public void The_IPv4_mapped_form_counts_as_the_same_client()
    {
        var limiter = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = 1 });
        Assert.True(limiter.TryOpenConnection(A, out _));
        Assert.False(limiter.TryOpenConnection(IPAddress.Parse("::ffff:192.168.1.10"), out _));
    }

    [Fact]
    public void IPv6_clients_are_counted_per_64_prefix()
    {
        var limiter = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = 1 });
        Assert.True(limiter.TryOpenConnection(IPAddress.Parse("2001:db8:1:2::1"), out _));
        Assert.False(limiter.TryOpenConnection(IPAddress.Parse("2001:db8:1:2:aaaa::9"), out _));
        Assert.True(limiter.TryOpenConnection(IPAddress.Parse("2001:db8:1:3::1"), out _));
    }

    [Fact]
    public void Messages_per_minute_per_address_are_limited_and_refill_with_time()
    {
        var time = new ManualTime();
        var limiter = new RateLimiter(new RateLimitOptions { MessagesPerMinutePerAddress = 3 }, time);
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.False(limiter.TryAcceptMessage(A, null));
        Assert.True(limiter.TryAcceptMessage(B, null));
        time.Advance(TimeSpan.FromSeconds(20)); // one token back (3 per minute)
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.False(limiter.TryAcceptMessage(A, null));
        time.Advance(TimeSpan.FromMinutes(5)); // refills to capacity, not beyond
        for (int i = 0; i < 3; i++) Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.False(limiter.TryAcceptMessage(A, null));
    }

    [Fact]
    public void Messages_per_minute_per_user_are_limited_across_addresses()
    {
        var time = new ManualTime();
        var limiter = new RateLimiter(new RateLimitOptions { MessagesPerMinutePerUser = 2, MessagesPerMinutePerAddress = 100 }, time);
        Assert.True(limiter.TryAcceptMessage(A, "printer"));
        Assert.True(limiter.TryAcceptMessage(B, "PRINTER"));
        Assert.False(limiter.TryAcceptMessage(IPAddress.Loopback, "printer"));
        Assert.True(limiter.TryAcceptMessage(A, "scanner"));
        Assert.True(limiter.TryAcceptMessage(A, null));
    }

    [Fact]
    public void A_refusal_by_one_bucket_takes_no_token_from_the_other()
    {
        var time = new ManualTime();
        var limiter = new RateLimiter(new RateLimitOptions { MessagesPerMinutePerUser = 1, MessagesPerMinutePerAddress = 2 }, time);
        Assert.True(limiter.TryAcceptMessage(A, "u"));
        Assert.False(limiter.TryAcceptMessage(A, "u")); // user empty; address keeps its second token
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.False(limiter.TryAcceptMessage(A, null));
    }

    [Fact]
    public void A_flood_of_addresses_does_not_grow_the_table_past_its_bound()
    {
        var time = new ManualTime();
        var limiter = new RateLimiter(new RateLimitOptions { MaxTrackedKeys = 64, MessagesPerMinutePerAddress = 5 }, time);
        for (int i = 0; i < 10_000; i++)
        {
            var address = new IPAddress(BitConverter.GetBytes(0x0A000000 + i));
            Assert.True(limiter.TryAcceptMessage(address, null));
            Assert.True(limiter.TrackedKeys <= 64);
        }
    }

    [Fact]
    public void Idle_entries_are_evicted_first_so_a_busy_client_keeps_its_limit()
    {
        var time = new ManualTime();
        var limiter = new RateLimiter(new RateLimitOptions { MaxTrackedKeys = 16, MessagesPerMinutePerAddress = 2 }, time);
        for (int i = 0; i < 15; i++) limiter.TryAcceptMessage(new IPAddress([10, 0, 0, (byte)i]), null);
        time.Advance(TimeSpan.FromMinutes(2)); // those have refilled: idle
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.True(limiter.TryAcceptMessage(A, null));
        Assert.False(limiter.TryAcceptMessage(A, null));
        for (int i = 0; i < 10; i++) limiter.TryAcceptMessage(new IPAddress([10, 0, 1, (byte)i]), null);
        Assert.False(limiter.TryAcceptMessage(A, null)); // A was not forgotten
    }
}

public class AuthThrottleTests
{
    private static readonly IPAddress Guesser = IPAddress.Parse("192.168.1.66");

    [Fact]
    public void The_delay_doubles_from_one_second_and_is_capped()
    {
        var t = new AuthThrottle(new AuthThrottleOptions { MaxDelay = TimeSpan.FromSeconds(8), MaxFailures = 20 }, new ManualTime());
        var delays = Enumerable.Range(0, 6).Select(_ => t.RecordFailure(Guesser).Delay.TotalSeconds).ToArray();
        Assert.Equal([1, 2, 4, 8, 8, 8], delays);
    }

    [Fact]
    public void Wrong_passwords_get_535_5_7_8_until_too_many_then_421_and_the_address_is_blocked()
    {
        var t = new AuthThrottle(new AuthThrottleOptions { MaxFailures = 3 }, new ManualTime());
        for (int i = 0; i < 3; i++)
        {
            var v = t.RecordFailure(Guesser);
            Assert.False(v.Disconnect);
            Assert.Equal("535 5.7.8 Authentication credentials invalid", SmtpReplies.Get(v.Reply).ToString());
        }
        Assert.False(t.IsBlocked(Guesser));
        var last = t.RecordFailure(Guesser);
        Assert.True(last.Disconnect);
        Assert.Equal(421, SmtpReplies.Get(last.Reply).Code);
        Assert.True(t.IsBlocked(Guesser));
        Assert.True(t.IsBlocked(IPAddress.Parse("::ffff:192.168.1.66")));
        Assert.False(t.IsBlocked(IPAddress.Parse("192.168.1.67")));
    }

    [Fact]
    public void Failures_are_forgotten_after_a_quiet_period()
    {
        var time = new ManualTime();
        var t = new AuthThrottle(new AuthThrottleOptions { MaxFailures = 1, ForgetAfter = TimeSpan.FromMinutes(15) }, time);
        t.RecordFailure(Guesser);
        t.RecordFailure(Guesser);
        Assert.True(t.IsBlocked(Guesser));
        time.Advance(TimeSpan.FromMinutes(15));
        Assert.False(t.IsBlocked(Guesser));
        Assert.Equal(TimeSpan.FromSeconds(1), t.RecordFailure(Guesser).Delay);
    }

    [Fact]
    public void Success_clears_the_record()
    {
        var t = new AuthThrottle(time: new ManualTime());
        t.RecordFailure(Guesser);
        t.RecordFailure(Guesser);
        t.RecordSuccess(Guesser);
        Assert.Equal(TimeSpan.FromSeconds(1), t.RecordFailure(Guesser).Delay);
    }

    [Fact]
    public void A_flood_of_guessing_addresses_stays_within_the_bound()
    {
        var t = new AuthThrottle(new AuthThrottleOptions { MaxTrackedAddresses = 32 }, new ManualTime());
        for (int i = 0; i < 5000; i++) t.RecordFailure(new IPAddress(BitConverter.GetBytes(0x0B000000 + i)));
        Assert.True(t.TrackedAddresses <= 32);
    }

    [Fact]
    public async Task A_zero_delay_completes_at_once()
    {
        var t = new AuthThrottle(time: new ManualTime());
        await t.DelayAsync(new AuthFailureVerdict(TimeSpan.Zero, true));
    }
}
