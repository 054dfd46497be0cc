using System.Text;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests;

/// <summary>The relay's per-route health (what `edgemail status` shows per route and the LED's "upstream failing"),
/// driven by real upstreams: aiosmtpd that answers 451 and then 250, one that refuses a recipient, and a port
/// nobody listens on.</summary>
public sealed class RouteHealthTests
{
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("Subject: health\r\n\r\nhello\r\n");

    private static RelayOptions To(string url) => new()
    {
        Upstreams = [new UpstreamOptions { Url = url }],
        HeloName = "edge.test",
        Jitter = 0,
    };

    [Fact]
    public async Task A_route_whose_upstream_answers_451_is_failing_until_the_retry_is_accepted()
    {
        using var upstream = await AioUpstream.StartAsync("tempfail");
        await using var relay = new SpoolRelay(To(upstream.Url()));
        var flips = new List<bool>();
        relay.Relay.Health.FailingChanged += () => { lock (flips) flips.Add(relay.Relay.Health.AnyFailing); };
        await relay.StartAsync();

        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        var failing = Assert.Single(relay.Relay.Health.Snapshot());
        Assert.Equal("default", failing.Route);
        Assert.Equal($"127.0.0.1:{upstream.Port}", failing.Hosts);
        Assert.Equal("failing", failing.State);
        Assert.Equal("deferred", failing.LastResult);
        Assert.Equal(1, failing.ConsecutiveFailures);
        Assert.Equal(relay.Clock.GetUtcNow(), failing.FailingSince);
        Assert.Equal(relay.Clock.GetUtcNow(), failing.LastAttempt);
        Assert.StartsWith("451 4.3.0", failing.LastReply);
        Assert.Equal($"127.0.0.1[127.0.0.1]:{upstream.Port}", failing.Host);
        Assert.Null(failing.LastSuccess);
        Assert.True(relay.Relay.Health.AnyFailing);

        await relay.RetryAsync(id);
        var ok = Assert.Single(relay.Relay.Health.Snapshot());
        Assert.Equal("ok", ok.State);
        Assert.Equal("sent", ok.LastResult);
        Assert.Equal(0, ok.ConsecutiveFailures);
        Assert.Null(ok.FailingSince);
        Assert.Equal(relay.Clock.GetUtcNow(), ok.LastSuccess);
        Assert.StartsWith("250 ", ok.LastReply);
        Assert.False(relay.Relay.Health.AnyFailing);
        lock (flips) Assert.Equal([true, false], flips);
    }

    [Fact]
    public async Task Failures_in_a_row_are_counted_and_failing_since_is_the_first_of_them()
    {
        int port = HelperProcess.FreePort();
        await using var relay = new SpoolRelay(To($"smtp://127.0.0.1:{port}"));
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        DateTimeOffset first = relay.Clock.GetUtcNow();

        await relay.RetryAsync(id);
        await relay.RetryAsync(id);

        var entry = Assert.Single(relay.Relay.Health.Snapshot());
        Assert.Equal(3, entry.ConsecutiveFailures);
        Assert.Equal(first, entry.FailingSince);
        Assert.Equal(relay.Clock.GetUtcNow(), entry.LastAttempt);
        Assert.True(entry.LastAttempt > first);
        Assert.Contains("127.0.0.1", entry.LastReply);
        Assert.Equal("failing", entry.State);
    }

    [Fact]
    public async Task A_recipient_refused_with_550_bounces_but_the_route_that_answered_stays_ok()
    {
        using var upstream = await AioUpstream.StartAsync("reject");
        await using var relay = new SpoolRelay(To(upstream.Url()));
        await relay.StartAsync();

        // The null sender: no bounce is queued, so no second delivery changes the route's record under the test.
        await relay.DeliverAsync("", ["nobody@example.test"], Body);

        var entry = Assert.Single(relay.Relay.Health.Snapshot());
        Assert.Equal("bounced", entry.LastResult);
        Assert.StartsWith("550 5.1.1", entry.LastReply);
        Assert.Equal("ok", entry.State);
        Assert.False(relay.Relay.Health.AnyFailing);
    }

    [Fact]
    public async Task Configured_routes_are_listed_as_never_tried_before_any_mail_went_out()
    {
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = "smtp+starttls://smtp.example.test" }, new UpstreamOptions { Url = "smtp://backup.example.test:2525" }],
            Routes = [new RouteRule { Pattern = "*.lan", Upstreams = [new UpstreamOptions { Url = "smtp://nas.lan" }] }, new RouteRule { Pattern = "direct.test" }],
            HeloName = "edge.test",
        });

        var routes = relay.Relay.Health.Snapshot();

        Assert.Equal(["default", "*.lan"], routes.Select(r => r.Route));
        Assert.Equal("smtp.example.test:587, backup.example.test:2525", routes[0].Hosts);
        Assert.Equal("nas.lan:25", routes[1].Hosts);
        Assert.All(routes, r => Assert.Equal("never tried", r.State));
        Assert.False(relay.Relay.Health.AnyFailing);
    }

    [Fact]
    public void Direct_MX_routes_one_per_domain_are_bounded_and_the_configured_ones_are_never_pushed_out()
    {
        var health = new RouteHealth([new Route("default", [], "default")]);
        var start = new DateTimeOffset(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

        for (int i = 0; i < RouteHealth.MaxRoutes + 10; i++)
        {
            health.Record(new Route($"mx:d{i}.test", []), [new RecipientOutcome($"a@d{i}.test", RecipientStatus.Delivered, "2.0.0", "250 ok", "mx", "mx[192.0.2.1]:25")],
                start.AddSeconds(i));
        }

        var routes = health.Snapshot();
        Assert.Equal(RouteHealth.MaxRoutes, routes.Count);
        Assert.Equal("default", routes[0].Route);
        Assert.DoesNotContain(routes, r => r.Route == "mx:d0.test");          // the least recently tried made room
        Assert.Contains(routes, r => r.Route == $"mx:d{RouteHealth.MaxRoutes + 9}.test");
    }
}
