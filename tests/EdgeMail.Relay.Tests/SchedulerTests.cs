using System.Net.Sockets;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Smtp.Client;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Relay.Tests;

/// <summary>The scheduler's rules, over a scripted upstream and a manual clock (no sockets, no sleeps).</summary>
public sealed class SchedulerTests
{
    private static readonly SmtpReply TryLater = new(451, "4.3.0", "try again later");
    private static readonly SmtpReply NoSuchUser = new(550, "5.1.1", "no such user");

    [Fact]
    public async Task A_committed_message_is_delivered_at_once_and_leaves_the_spool()
    {
        await using var h = new RelayHarness();
        await h.StartAsync();
        var id = await h.SubmitAsync("alice@edge.test", "bob@example.com");

        var sent = Assert.Single(h.Upstream.Sent);
        Assert.Equal("smarthost.test", sent.Host);
        Assert.Equal(["bob@example.com"], sent.Recipients);
        Assert.Equal("alice@edge.test", sent.Sender);
        Assert.Contains(id, h.Queue.Completed);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task What_the_upstream_receives_is_exactly_the_queued_bytes()
    {
        await using var h = new RelayHarness();
        await h.StartAsync();
        var body = "Received: from x\r\nSubject: bytes\r\n\r\n.leading dot\r\n\u00e9\r\n";
        var id = h.Queue.Add("a@edge.test", ["b@example.com"], body, notify: false);
        var expected = h.Queue.OpenMessage(id);
        var bytes = new MemoryStream();
        expected.CopyTo(bytes);
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await round;
        Assert.Equal(bytes.ToArray(), Assert.Single(h.Upstream.Sent).Message);
    }

    [Fact]
    public async Task Queued_messages_are_scheduled_at_startup_by_their_next_attempt()
    {
        await using var h = new RelayHarness();
        var due = h.Queue.Add("a@edge.test", ["b@example.com"], notify: false);
        var later = h.Queue.Add("a@edge.test", ["c@example.com"], notify: false, nextAttempt: RelayHarness.T0 + TimeSpan.FromMinutes(10));
        var dueRound = h.NextRound(due);
        await h.StartAsync();
        await dueRound;
        Assert.True(h.Queue.Contains(later));
        Assert.Single(h.Upstream.Sent);

        var laterRound = h.NextRound(later);
        h.Clock.Advance(TimeSpan.FromMinutes(10));
        await laterRound;
        Assert.False(h.Queue.Contains(later));
    }

    [Fact]
    public async Task A_4xx_defers_and_the_retry_comes_after_the_first_backoff()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = h.Upstream.FirstSendGets(TryLater);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");

        var entry = h.Queue.Get(id)!;
        Assert.Equal(RecipientStatus.Pending, entry.Recipients[0].Status);
        Assert.Equal(RelayHarness.T0 + TimeSpan.FromMinutes(5), entry.NextAttempt);
        Assert.Contains("451 4.3.0", entry.LastError);

        await h.RetryAsync(id);
        Assert.Equal(2, h.Upstream.Sent.Count);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task Retries_back_off_exponentially_up_to_the_cap()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, _ => TryLater);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 6; i++)
        {
            var before = h.Clock.GetUtcNow();
            delays.Add(h.Queue.Get(id)!.NextAttempt!.Value - before);
            await h.RetryAsync(id);
        }
        Assert.Equal([5, 10, 20, 40, 70, 70], delays.Select(d => d.TotalMinutes));
    }

    [Fact]
    public async Task A_retry_goes_only_to_the_recipients_still_pending()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, r => r.StartsWith("slow") && h.Upstream.Sent.Count == 1
            ? TryLater : new SmtpReply(250, "2.0.0", "ok"));
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "fast@example.com", "slow@example.com");
        Assert.Equal(RecipientStatus.Delivered, h.StatusOf(id, "fast@example.com"));
        Assert.Equal(RecipientStatus.Pending, h.StatusOf(id, "slow@example.com"));

        await h.RetryAsync(id);
        Assert.Equal(["slow@example.com"], h.Upstream.Sent[1].Recipients);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task A_5xx_recipient_is_bounced_to_the_sender_with_a_DSN_from_the_null_sender()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = m => m.Sender.Length == 0 ? ScriptedTransport.Accept(m.Recipients)
            : ScriptedTransport.Each(m.Recipients, r => r.StartsWith("nobody") ? NoSuchUser : new SmtpReply(250, "2.0.0", "ok"));
        await h.StartAsync();
        var id = h.Queue.Add("alice@edge.test", ["bob@example.com", "nobody@example.com"], "Subject: hi\r\nMessage-ID: <1@edge.test>\r\n\r\nsecret body\r\n", notify: false);
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await round;

        Assert.False(h.Queue.Contains(id));
        var (bounceId, envelope, bytes) = Assert.Single(h.Queue.Enqueued);
        Assert.Equal("", envelope.Sender);
        Assert.Equal(["alice@edge.test"], envelope.Recipients);

        var dsn = MimeMessage.Load(new MemoryStream(bytes));
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        var group = status.StatusGroups[1];
        Assert.Equal("rfc822; nobody@example.com", group["Final-Recipient"]);
        Assert.Equal("failed", group["Action"]);
        Assert.Equal("5.1.1", group["Status"]);
        Assert.Equal("dns; smarthost.test", group["Remote-MTA"]);
        Assert.Contains("550 5.1.1 no such user", group["Diagnostic-Code"]);
        Assert.Equal(2, status.StatusGroups.Count(g => g.Count > 0)); // per-message + the one failed recipient
        Assert.Equal("text/rfc822-headers", report[2].ContentType.MimeType);
        var original = Assert.IsType<TextRfc822Headers>(report[2]).Message!;
        Assert.Equal("1@edge.test", original.MessageId);
        Assert.Equal("hi", original.Subject);
        Assert.DoesNotContain("secret body", System.Text.Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public async Task A_bounce_that_itself_fails_is_dropped_not_bounced()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, _ => NoSuchUser);
        await h.StartAsync();
        var id = await h.SubmitAsync("", "postmaster@example.com");
        Assert.False(h.Queue.Contains(id));
        Assert.Empty(h.Queue.Enqueued);
        Assert.Contains(h.Log.Lines, l => l.Contains("null sender dropped"));
    }

    [Fact]
    public async Task A_failure_is_not_final_until_its_bounce_is_queued()
    {
        await using var h = new RelayHarness();
        h.Queue.FailEnqueue = true;
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, _ => NoSuchUser);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Equal(RecipientStatus.Pending, h.StatusOf(id, "b@example.com"));

        h.Queue.FailEnqueue = false;
        await h.RetryAsync(id);
        Assert.False(h.Queue.Contains(id));
        Assert.Single(h.Queue.Enqueued);
    }

    [Fact]
    public async Task After_the_queue_lifetime_the_open_recipients_are_bounced()
    {
        var options = RelayHarness.Options();
        await using var h = new RelayHarness(new RelayOptions
        {
            Upstreams = options.Upstreams, Jitter = 0, HeloName = "edge.test",
            MaxQueueLifetime = TimeSpan.FromHours(1),
        });
        h.Upstream.OnSend = ScriptedTransport.AcceptOnlyNullSender(TryLater);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        while (h.Queue.Contains(id)) await h.RetryAsync(id);

        Assert.True(h.Clock.GetUtcNow() - RelayHarness.T0 >= TimeSpan.FromHours(1));
        var bounce = Assert.Single(h.Queue.Enqueued);
        var status = Dsn.StatusOf(bounce.Bytes);
        Assert.Equal("failed", status.StatusGroups[1]["Action"]);
        Assert.Equal("4.3.0", status.StatusGroups[1]["Status"]);
        Assert.Contains(h.Log.Lines, l => l.Contains("status=expired"));
    }

    [Fact]
    public async Task The_delay_warning_is_off_by_default_and_sent_once_when_configured()
    {
        await using (var h = new RelayHarness())
        {
            h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, _ => TryLater);
            await h.StartAsync();
            var id = await h.SubmitAsync("a@edge.test", "b@example.com");
            for (var i = 0; i < 5; i++) await h.RetryAsync(id);
            Assert.Empty(h.Queue.Enqueued);
        }
        await using (var h = new RelayHarness(new RelayOptions
        {
            Upstreams = RelayHarness.Options().Upstreams, Jitter = 0, HeloName = "edge.test",
            DelayWarning = TimeSpan.FromMinutes(10),
        }))
        {
            h.Upstream.OnSend = ScriptedTransport.AcceptOnlyNullSender(TryLater);
            await h.StartAsync();
            var id = await h.SubmitAsync("a@edge.test", "b@example.com");
            for (var i = 0; i < 5; i++) await h.RetryAsync(id);
            var warning = Assert.Single(h.Queue.Enqueued);
            var status = Dsn.StatusOf(warning.Bytes);
            Assert.Equal("delayed", status.StatusGroups[1]["Action"]);
            Assert.True(h.Queue.Contains(id));
        }
    }

    [Fact]
    public async Task A_connection_failure_fails_over_to_the_next_upstream()
    {
        await using var h = new RelayHarness(RelayHarness.Options("smtp://first.test", "smtp://second.test"));
        h.Upstream.OnConnect = t => t.Host == "first.test" ? new SmtpClientException(SmtpFailureKind.Connect, "first.test:25", "connection refused") : null;
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Equal("second.test", Assert.Single(h.Upstream.Sent).Host);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task A_4xx_on_one_upstream_fails_over_to_the_next()
    {
        await using var h = new RelayHarness(RelayHarness.Options("smtp://first.test", "smtp://second.test"));
        h.Upstream.OnSend = m => m.Host == "first.test" ? ScriptedTransport.Each(m.Recipients, _ => TryLater) : ScriptedTransport.Accept(m.Recipients);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Equal(["first.test", "second.test"], h.Upstream.Sent.Select(s => s.Host));
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task A_5xx_greeting_fails_over_and_only_when_every_host_refuses_does_the_recipient_bounce()
    {
        static SmtpClientException Refused(DeliveryTarget t) => new(SmtpFailureKind.Rejected, t.Host + ":25",
            "refused at greeting", new SmtpReply(554, "5.7.1", "no relaying for you"));

        await using (var one = new RelayHarness(RelayHarness.Options("smtp://first.test", "smtp://second.test")))
        {
            one.Upstream.OnConnect = t => t.Host == "first.test" ? Refused(t) : null;
            await one.StartAsync();
            var id = await one.SubmitAsync("a@edge.test", "b@example.com");
            Assert.Equal("second.test", Assert.Single(one.Upstream.Sent).Host);
            Assert.False(one.Queue.Contains(id));
        }

        await using var all = new RelayHarness(RelayHarness.Options("smtp://first.test", "smtp://second.test"));
        all.Upstream.OnConnect = Refused;
        await all.StartAsync();
        var bounced = await all.SubmitAsync("a@edge.test", "b@example.com");
        Assert.False(all.Queue.Contains(bounced));                      // final: not retried for five days
        Assert.Single(all.Queue.Enqueued);                              // the DSN to a@edge.test
        Assert.Contains(all.Log.Lines, l => l.Contains("status=bounced") && l.Contains("to=<b@example.com>"));
    }

    [Fact]
    public async Task When_every_upstream_is_down_the_message_is_deferred_with_the_reason()
    {
        await using var h = new RelayHarness(RelayHarness.Options("smtp://first.test", "smtp://second.test"));
        h.Upstream.OnConnect = t => new SmtpClientException(SmtpFailureKind.Connect, t.Host + ":25", "connection refused");
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Equal(RecipientStatus.Pending, h.StatusOf(id, "b@example.com"));
        Assert.Contains("second.test", h.Queue.Get(id)!.LastError);
        Assert.Contains(h.Log.Lines, l => l.Contains("status=deferred") && l.Contains("to=<b@example.com>"));
    }

    [Fact]
    public async Task A_lost_connection_defers_and_the_retry_delivers()
    {
        await using var h = new RelayHarness();
        var first = true;
        h.Upstream.OnSend = m =>
        {
            if (first) { first = false; throw new SmtpClientException(SmtpFailureKind.Protocol, "smarthost.test:25", "connection closed in DATA"); }
            return ScriptedTransport.Accept(m.Recipients);
        };
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.True(h.Queue.Contains(id));
        await h.RetryAsync(id);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task Per_domain_routes_pick_the_first_matching_rule()
    {
        await using var h = new RelayHarness(new RelayOptions
        {
            Routes =
            [
                new RouteRule { Pattern = "*.lan", Upstreams = [new UpstreamOptions { Url = "smtp://nas.lan" }] },
                new RouteRule { Pattern = "*", Upstreams = [new UpstreamOptions { Url = "smtps://smarthost.test" }] },
            ],
            Jitter = 0,
        });
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "printer@office.lan", "b@example.com");
        Assert.Equal(2, h.Upstream.Sent.Count);
        Assert.Equal(["printer@office.lan"], h.Upstream.Sent.Single(s => s.Host == "nas.lan").Recipients);
        Assert.Equal(["b@example.com"], h.Upstream.Sent.Single(s => s.Host == "smarthost.test").Recipients);
        Assert.False(h.Queue.Contains(id));
    }

    [Fact]
    public async Task Several_messages_share_one_connection_with_RSET_between()
    {
        await using var h = new RelayHarness(new RelayOptions
        {
            Upstreams = RelayHarness.Options().Upstreams, Jitter = 0, MaxConnectionsPerRoute = 1,
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.Gate = gate;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.SendStarted += () => started.TrySetResult();
        await h.StartAsync();
        var ids = Enumerable.Range(0, 4).Select(i => h.Queue.Add("a@edge.test", [$"r{i}@example.com"], notify: false)).ToList();
        var rounds = ids.Select(h.NextRound).ToList();
        h.Queue.Notify(ids[0]);
        await started.Task;                      // the first holds the only connection...
        var queued = ids.Skip(1).Select(h.JobQueued).ToList();
        foreach (var id in ids.Skip(1)) h.Queue.Notify(id);
        await Task.WhenAll(queued);              // ...the rest queue behind it...
        gate.SetResult();                        // ...and follow on the same connection
        await Task.WhenAll(rounds);

        Assert.Equal(4, h.Upstream.Sent.Count);
        Assert.Equal(1, h.Upstream.Connections);
        Assert.Equal(3, h.Upstream.Resets);
    }

    [Fact]
    public async Task Connections_per_route_are_bounded()
    {
        await using var h = new RelayHarness(new RelayOptions
        {
            Upstreams = RelayHarness.Options().Upstreams, Jitter = 0, MaxConnectionsPerRoute = 2, MaxConnections = 8,
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.Gate = gate;
        var twoStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var count = 0;
        h.Upstream.SendStarted += () => { if (Interlocked.Increment(ref count) == 2) twoStarted.TrySetResult(); };
        await h.StartAsync();
        var ids = Enumerable.Range(0, 6).Select(i => h.Queue.Add("a@edge.test", [$"r{i}@example.com"], notify: false)).ToList();
        var rounds = ids.Select(h.NextRound).ToList();
        foreach (var id in ids) h.Queue.Notify(id);
        await twoStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, h.Upstream.MaxOpen);
        gate.SetResult();
        await Task.WhenAll(rounds);
        Assert.Equal(2, h.Upstream.MaxOpen);
        Assert.Equal(6, h.Upstream.Sent.Count);
    }

    [Fact]
    public async Task A_large_backlog_is_worked_on_a_bounded_number_of_messages_at_a_time()
    {
        await using var h = new RelayHarness(new RelayOptions
        {
            Upstreams = RelayHarness.Options().Upstreams, Jitter = 0,
            MaxMessagesInFlight = 2, MaxConnectionsPerRoute = 8, MaxConnections = 8,
        });
        var ids = Enumerable.Range(0, 12).Select(i => h.Queue.Add("a@edge.test", [$"r{i}@example.com"], notify: false)).ToList();
        var rounds = ids.Select(h.NextRound).ToList();
        await h.StartAsync();
        await Task.WhenAll(rounds);
        Assert.Equal(12, h.Upstream.Sent.Count);
        Assert.InRange(h.Upstream.MaxOpen, 1, 2);
        Assert.Empty(h.Queue.List());
    }

    [Fact]
    public async Task A_finished_message_is_removed_without_a_last_attempt_record()
    {
        await using var h = new RelayHarness();
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Contains(id, h.Queue.Completed);
        Assert.Empty(h.Queue.Attempts); // one fsync (the removal), not two
    }

    [Fact]
    public async Task A_held_message_is_not_delivered_until_released()
    {
        await using var h = new RelayHarness();
        await h.StartAsync();
        var id = h.Queue.Add("a@edge.test", ["b@example.com"], notify: false);
        h.Queue.Hold(id);
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await round;
        Assert.Empty(h.Upstream.Sent);

        round = h.NextRound(id);
        Assert.True(h.Relay.Release(id));
        await round;
        Assert.Single(h.Upstream.Sent);
    }

    [Fact]
    public async Task Flush_makes_deferred_messages_due_now()
    {
        await using var h = new RelayHarness();
        h.Upstream.OnSend = h.Upstream.FirstSendGets(TryLater);
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        var round = h.NextRound(id);
        h.Relay.Flush();
        await round;
        Assert.False(h.Queue.Contains(id));
        Assert.Equal(RelayHarness.T0, h.Clock.GetUtcNow());
    }

    [Fact]
    public async Task Every_attempt_is_logged_in_Postfix_shape()
    {
        await using var h = new RelayHarness();
        await h.StartAsync();
        var id = await h.SubmitAsync("a@edge.test", "b@example.com");
        Assert.Contains($"{id}: to=<b@example.com>, route=default, relay=smarthost.test[smarthost.test]:25, delay=0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)", h.Log.Lines);
    }

    [Fact]
    public async Task Stopping_mid_delivery_records_nothing_so_a_restart_delivers_again()
    {
        var h = new RelayHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.Gate = new TaskCompletionSource();   // never answers
        h.Upstream.SendStarted += () => started.TrySetResult();
        await h.StartAsync();
        var id = h.Queue.Add("a@edge.test", ["b@example.com"]);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await h.DisposeAsync();
        Assert.Empty(h.Queue.Attempts);
        Assert.Equal(RecipientStatus.Pending, h.Queue.Get(id)!.Recipients[0].Status);
    }
}

public sealed class SchedulerEdgeTests
{
    [Fact]
    public async Task A_message_deleted_during_delivery_is_forgotten_quietly()
    {
        await using var h = new RelayHarness();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.Gate = gate;
        h.Upstream.SendStarted += () => started.TrySetResult();
        h.Upstream.OnSend = m => ScriptedTransport.Each(m.Recipients, _ => new EdgeMail.Smtp.Client.SmtpReply(451, "4.3.0", "later"));
        await h.StartAsync();
        var id = h.Queue.Add("a@edge.test", ["b@example.com"], notify: false);
        var round = h.NextRound(id);
        h.Queue.Notify(id);
        await started.Task;
        Assert.True(h.Relay.Delete(id));
        gate.SetResult();
        await round;
        Assert.Empty(h.Queue.Attempts);
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("round failed"));
    }

    [Fact]
    public async Task A_reused_connection_gets_RSET_and_a_broken_one_is_replaced()
    {
        await using var h = new RelayHarness(new RelayOptions
        {
            Upstreams = RelayHarness.Options().Upstreams, Jitter = 0, MaxConnectionsPerRoute = 1,
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Upstream.Gate = gate;
        h.Upstream.SendStarted += () => started.TrySetResult();
        h.Upstream.FailResets = 1;
        await h.StartAsync();
        var ids = Enumerable.Range(0, 3).Select(i => h.Queue.Add("a@edge.test", [$"r{i}@example.com"], notify: false)).ToList();
        var rounds = ids.Select(h.NextRound).ToList();
        h.Queue.Notify(ids[0]);
        await started.Task;
        var queued = ids.Skip(1).Select(h.JobQueued).ToList();
        h.Queue.Notify(ids[1]);
        h.Queue.Notify(ids[2]);
        await Task.WhenAll(queued);
        gate.SetResult();
        await Task.WhenAll(rounds);
        Assert.All(ids, id => Assert.False(h.Queue.Contains(id)));
        Assert.Equal(2, h.Upstream.Connections); // the RSET that failed cost one reconnect, not a deferral
    }
}
