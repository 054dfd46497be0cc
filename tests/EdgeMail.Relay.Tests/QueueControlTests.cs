using System.Text;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests;

/// <summary>What the daemon socket's FLUSH, DELETE, HOLD and RELEASE do to the relay's schedule (the socket itself is
/// tested with the daemon in EdgeMail.Tests). Also: what the relay does at start-up with what is already queued.</summary>
public sealed class QueueControlTests
{
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("Subject: control\r\n\r\nhello\r\n");

    /// <summary>An upstream nobody listens on: every attempt is deferred, so messages stay queued.</summary>
    private static RelayOptions Unreachable() => new()
    {
        Upstreams = [new UpstreamOptions { Url = $"smtp://127.0.0.1:{HelperProcess.FreePort()}" }],
        HeloName = "edge.test",
        Jitter = 0,
    };

    [Fact]
    public async Task Hold_keeps_a_message_release_makes_it_due_at_once_and_delete_removes_it()
    {
        await using var relay = new SpoolRelay(Unreachable());
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        Assert.Equal(RecipientStatus.Pending, relay.Spool.Get(id)!.Recipients[0].Status);

        Assert.True(relay.Relay.Hold(id));
        Assert.True(relay.Spool.Get(id)!.Held);
        Assert.False(relay.Relay.Hold(id));

        var round = relay.NextRound(id);
        Assert.True(relay.Relay.Release(id));
        await round; // released means due now, not at its next retry time
        Assert.False(relay.Spool.Get(id)!.Held);

        Assert.True(relay.Relay.Delete(id));
        Assert.Null(relay.Spool.Get(id));
        Assert.False(relay.Relay.Delete(id));
    }

    [Fact]
    public async Task Flush_retries_deferred_mail_now()
    {
        await using var relay = new SpoolRelay(Unreachable());
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        var attempts = relay.Spool.Get(id)!.Attempts;

        var round = relay.NextRound(id);
        relay.Relay.Flush();
        await round;
        Assert.Equal(attempts + 1, relay.Spool.Get(id)!.Attempts);
    }

    [Fact]
    public void A_relay_refuses_a_spool_that_another_process_owns()
    {
        var dir = Directory.CreateTempSubdirectory("edgemail-relay-").FullName;
        try
        {
            using var owner = MessageSpool.Open(new SpoolOptions { Directory = dir, MinFreeBytes = 0 });
            using var second = MessageSpool.Open(new SpoolOptions { Directory = dir, MinFreeBytes = 0 });
            Assert.True(second.IsReadOnly);
            var e = Assert.Throws<InvalidOperationException>(() => new RelayService(Unreachable(), second));
            Assert.Contains("owned by another process", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Mail_queued_while_no_daemon_ran_is_delivered_at_start_up()
    {
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = upstream.Url() }], HeloName = "edge.test", Jitter = 0,
        });
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await Commit(relay.Spool));
        var rounds = ids.Select(relay.NextRound).ToList();
        await relay.StartAsync();
        await Task.WhenAll(rounds);
        Assert.Empty(relay.Spool.List());
        Assert.Equal(3, upstream.Received().Count);
    }

    [Fact]
    public async Task After_a_restart_only_the_recipients_still_pending_are_retried()
    {
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = upstream.Url() }], HeloName = "edge.test", Jitter = 0,
        });
        // As if a previous run delivered to bob and then died before carol's transaction.
        var id = await Commit(relay.Spool, "bob@example.test", "carol@example.test");
        relay.Spool.RecordAttempt(id, new AttemptRecord
        {
            When = relay.Clock.GetUtcNow(),
            Recipients = [new RecipientState("bob@example.test", RecipientStatus.Delivered, "250 2.0.0 ok")],
        });
        await relay.RestartAsync();
        var round = relay.NextRound(id);
        await relay.StartAsync();
        await round;
        Assert.Equal(["alice@edge.test", "carol@example.test"], Assert.Single(upstream.Received()).Envelope);
        Assert.Null(relay.Spool.Get(id));
    }

    private static async Task<string> Commit(MessageSpool spool, params string[] recipients)
    {
        var writer = spool.Create(new Envelope
        {
            Sender = "alice@edge.test",
            Recipients = recipients.Length == 0 ? ["bob@example.test"] : recipients,
            ClientAddress = "127.0.0.1",
        });
        await using (writer)
        {
            await writer.WriteAsync(Body);
            await writer.CommitAsync();
            return writer.QueueId;
        }
    }
}
