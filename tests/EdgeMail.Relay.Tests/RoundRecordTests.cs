using System.Text;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Smtp.Client;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests;

/// <summary>What the side record holds after each part of a round, and what a restart makes of it: at least once,
/// duplicates only for what was in flight. Real spool on disk, scripted upstreams, a manual clock, no sleeps.</summary>
public sealed class RoundRecordTests
{
    private static readonly SmtpReply TryLater = new(451, "4.3.0", "try again later");
    private static readonly byte[] Message = Encoding.ASCII.GetBytes("From: a@edge.test\r\nSubject: routes\r\n\r\nhello\r\n");

    /// <summary>a.test through a.relay, b.test through b.relay (the rest, notices to senders, through other.relay):
    /// a message to bob@a.test and carol@b.test is one round of two jobs.</summary>
    private static RelayOptions TwoRoutes(TimeSpan? delayWarning = null) => new()
    {
        Routes =
        [
            new RouteRule { Pattern = "a.test", Upstreams = [new UpstreamOptions { Url = "smtp://a.relay" }] },
            new RouteRule { Pattern = "b.test", Upstreams = [new UpstreamOptions { Url = "smtp://b.relay" }] },
            new RouteRule { Pattern = "*", Upstreams = [new UpstreamOptions { Url = "smtp://other.relay" }] },
        ],
        HeloName = "edge.test",
        Jitter = 0,
        DelayWarning = delayWarning,
    };

    [Fact]
    public async Task A_route_that_delivered_is_recorded_while_another_is_still_trying_and_a_restart_sends_only_the_rest()
    {
        var slowB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new ScriptedTransport { HoldFor = host => host == "b.relay" ? slowB.Task : null };
        await using var relay = new SpoolRelay(TwoRoutes(), transport: transport);
        var recorded = new TaskCompletionSource<AttemptRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.Recorded += (_, attempt) => recorded.TrySetResult(attempt);
        await relay.StartAsync();

        var (id, _) = await relay.QueueAsync("a@edge.test", ["bob@a.test", "carol@b.test"], Message);
        var early = await recorded.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // B has not answered yet, and bob's delivery is already on disk, not counted as an attempt.
        Assert.False(slowB.Task.IsCompleted);
        Assert.True(early.Partial);
        Assert.Equal([new RecipientState("bob@a.test", RecipientStatus.Delivered, "250 2.0.0 Ok: queued")], early.Recipients);
        var onDisk = Assert.Single(MessageSpool.ReadQueue(relay.Dir));
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Pending], onDisk.Recipients.Select(r => r.Status));
        Assert.Equal(0, onDisk.Attempts);

        // The process ends while B is still on the wire; the next one finds the spool as the record left it.
        transport = new ScriptedTransport();
        await relay.RestartAsync(transport);
        var again = relay.NextRound(id);
        await relay.StartAsync();
        await again;

        var sent = Assert.Single(transport.Sent);
        Assert.Equal("b.relay", sent.Host);
        Assert.Equal(["carol@b.test"], sent.Recipients);
        Assert.Null(relay.Spool.Get(id));
        // Each delivery line names the rule that routed it and the host that answered.
        Assert.Contains(relay.Log.Lines, l => l.Contains($"{id}: to=<bob@a.test>, route=a.test, relay=a.relay[", StringComparison.Ordinal));
        Assert.Contains(relay.Log.Lines, l => l.Contains($"{id}: to=<carol@b.test>, route=b.test, relay=b.relay[", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_round_on_one_route_writes_a_single_record_and_none_when_it_delivers_everything()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, r => r.StartsWith('b') ? TryLater : new SmtpReply(250, "2.0.0", "ok"));
        await h.StartAsync();
        var deferred = await h.SubmitAsync("a@edge.test", "a@example.com", "b@example.com");
        var delivered = await h.SubmitAsync("a@edge.test", "c@example.com");

        var record = Assert.Single(h.Queue.Attempts).Attempt;
        Assert.Equal(deferred, Assert.Single(h.Queue.Attempts).Id);
        Assert.False(record.Partial);
        Assert.Equal(2, record.Recipients.Count);
        Assert.Contains(delivered, h.Queue.Completed);
    }

    [Fact]
    public async Task When_both_routes_deliver_the_first_is_recorded_early_and_the_message_is_then_removed()
    {
        var slowB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = new RelayHarness(TwoRoutes());
        h.Upstream.HoldFor = host => host == "b.relay" ? slowB.Task : null;
        var early = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Queue.AttemptRecorded += (_, _) => early.TrySetResult();
        await h.StartAsync();
        var id = h.Queue.Add("a@edge.test", ["bob@a.test", "carol@b.test"], notify: false, arrived: h.Clock.GetUtcNow());
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await early.Task.WaitAsync(TimeSpan.FromSeconds(30));
        slowB.SetResult();
        await round;

        var (recordedId, record) = Assert.Single(h.Queue.Attempts);
        Assert.Equal(id, recordedId);
        Assert.True(record.Partial);
        Assert.Equal("bob@a.test", Assert.Single(record.Recipients).Address);
        Assert.Contains(id, h.Queue.Completed);
    }

    [Fact]
    public async Task A_route_that_fails_while_another_is_still_trying_waits_for_the_round_so_its_bounce_is_queued_first()
    {
        var slowB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bTrying = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aRefused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = new RelayHarness(TwoRoutes());
        h.Upstream.HoldFor = host =>
        {
            if (host != "b.relay") return null;
            bTrying.TrySetResult();
            return slowB.Task;
        };
        h.Upstream.OnSend = m =>
        {
            if (m.Host != "a.relay") return ScriptedTransport.Accept(m.Recipients);
            aRefused.TrySetResult();
            return ScriptedTransport.Each(m.Recipients, _ => new SmtpReply(550, "5.1.1", "no such user"));
        };
        await h.StartAsync();
        var id = h.Queue.Add("a@edge.test", ["bob@a.test", "carol@b.test"], notify: false, arrived: h.Clock.GetUtcNow());
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await Task.WhenAll(bTrying.Task, aRefused.Task).WaitAsync(TimeSpan.FromSeconds(30));
        slowB.SetResult();
        await round;

        Assert.Empty(h.Queue.Attempts);   // the failure became final with the message's removal, after its DSN
        Assert.Single(h.Queue.Enqueued);
        Assert.Contains(id, h.Queue.Completed);
    }

    [Fact]
    public async Task The_delay_warning_is_sent_once_even_across_a_restart()
    {
        var transport = new ScriptedTransport
        {
            // The upstream takes notices (from <>) but defers the message itself.
            OnSend = ScriptedTransport.AcceptOnlyNullSender(TryLater),
        };
        var options = TwoRoutes(delayWarning: TimeSpan.FromMinutes(10));
        await using var relay = new SpoolRelay(options, transport: transport);
        await relay.StartAsync();
        var id = await relay.DeliverAsync("a@edge.test", ["bob@a.test"], Message);
        await relay.RetryAsync(id);            // after 5 minutes: not yet
        Assert.False(relay.Spool.Get(id)!.DelayWarned);
        await relay.RetryAsync(id);            // after 15 minutes: the notice
        Assert.True(relay.Spool.Get(id)!.DelayWarned);
        var notice = DelayNotices(relay);
        Assert.Single(notice);
        await relay.RoundDone(notice[0]);

        await relay.RestartAsync(transport);
        await relay.StartAsync();
        await relay.RetryAsync(id);
        await relay.RetryAsync(id);

        Assert.Single(DelayNotices(relay));
        Assert.Single(transport.Sent, m => m.Sender.Length == 0);
        Assert.True(relay.Spool.Get(id)!.DelayWarned);
    }

    private static List<string> DelayNotices(SpoolRelay relay)
    {
        const string marker = ": sender delay notification: ";
        return relay.Log.Lines.Where(l => l.Contains(marker, StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..]).ToList();
    }
}
