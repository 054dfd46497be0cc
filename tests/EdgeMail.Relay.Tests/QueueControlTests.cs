using System.Text;
using System.Text.Json;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests;

/// <summary><c>edgemail queue flush|delete|hold|release|status</c>: over the daemon's control socket, or on the
/// spool directly when no daemon runs. Also: what the daemon does at start-up with what is already queued.</summary>
public sealed class QueueControlTests
{
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("Subject: control\r\n\r\nhello\r\n");

    /// <summary>An upstream nobody listens on: every attempt is deferred, so messages stay queued.</summary>
    private static RelayOptions Unreachable(bool socket = true) => new()
    {
        Upstreams = [new UpstreamOptions { Url = $"smtp://127.0.0.1:{HelperProcess.FreePort()}" }],
        HeloName = "edge.test",
        Jitter = 0,
        ControlSocket = socket,
    };

    [Fact]
    public async Task The_control_socket_lives_in_the_spool_folder_owner_only_while_the_daemon_runs()
    {
        var relay = new SpoolRelay(Unreachable());
        await relay.StartAsync();
        var path = Path.Combine(relay.Dir, QueueControl.SocketName);
        Assert.True(File.Exists(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        await relay.Relay.StopAsync();
        Assert.False(File.Exists(path));
        await relay.DisposeAsync();
    }

    [Fact]
    public async Task Hold_release_status_and_delete_go_through_the_running_daemon()
    {
        await using var relay = new SpoolRelay(Unreachable());
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        Assert.Equal(RecipientStatus.Pending, relay.Spool.Get(id)!.Recipients[0].Status);

        var hold = await QueueControl.HoldAsync(relay.Dir, id);
        Assert.True(hold.Ok && hold.ViaDaemon, hold.Message);
        Assert.True(relay.Spool.Get(id)!.Held);

        var status = await QueueControl.StatusAsync(relay.Dir);
        Assert.True(status.Ok && status.ViaDaemon, status.Message);
        using (var json = JsonDocument.Parse(status.Message))
        {
            Assert.True(json.RootElement.GetProperty("daemon").GetBoolean());
            var message = Assert.Single(json.RootElement.GetProperty("messages").EnumerateArray());
            Assert.Equal(id, message.GetProperty("id").GetString());
            Assert.True(message.GetProperty("held").GetBoolean());
            Assert.Equal("bob@example.test", message.GetProperty("pending")[0].GetString());
        }

        var round = relay.NextRound(id);
        var release = await QueueControl.ReleaseAsync(relay.Dir, id);
        Assert.True(release.Ok && release.ViaDaemon, release.Message);
        await round; // released means due now
        Assert.False(relay.Spool.Get(id)!.Held);

        var delete = await QueueControl.DeleteAsync(relay.Dir, id);
        Assert.True(delete.Ok && delete.ViaDaemon, delete.Message);
        Assert.Null(relay.Spool.Get(id));

        var again = await QueueControl.DeleteAsync(relay.Dir, id);
        Assert.False(again.Ok);
        Assert.Contains("no such message", again.Message);
    }

    [Fact]
    public async Task Flush_through_the_daemon_retries_deferred_mail_now()
    {
        await using var relay = new SpoolRelay(Unreachable());
        await relay.StartAsync();
        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Body);
        var attempts = relay.Spool.Get(id)!.Attempts;

        var round = relay.NextRound(id);
        var flush = await QueueControl.FlushAsync(relay.Dir);
        Assert.True(flush.Ok && flush.ViaDaemon, flush.Message);
        await round;
        Assert.Equal(attempts + 1, relay.Spool.Get(id)!.Attempts);
    }

    [Fact]
    public async Task Without_a_daemon_the_commands_act_on_the_spool_directly()
    {
        var dir = Directory.CreateTempSubdirectory("edgemail-relay-").FullName;
        try
        {
            string held, deleted;
            using (var spool = MessageSpool.Open(new SpoolOptions { Directory = dir, MinFreeBytes = 0 }))
            {
                held = await Commit(spool);
                deleted = await Commit(spool);
            }
            var hold = await QueueControl.HoldAsync(dir, held);
            Assert.True(hold.Ok, hold.Message);
            Assert.False(hold.ViaDaemon);
            var delete = await QueueControl.DeleteAsync(dir, deleted);
            Assert.True(delete.Ok && !delete.ViaDaemon, delete.Message);
            var flush = await QueueControl.FlushAsync(dir);
            Assert.True(flush.Ok && !flush.ViaDaemon);
            Assert.Contains("no daemon", flush.Message);

            var queue = MessageSpool.ReadQueue(dir);
            Assert.True(Assert.Single(queue).Held);
        }
        finally { Directory.Delete(dir, true); }
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
    public async Task A_queue_ID_that_could_be_a_path_is_refused_before_anything_is_opened()
    {
        var result = await QueueControl.DeleteAsync("/nonexistent-spool", "../../etc/passwd");
        Assert.False(result.Ok);
        Assert.Contains("invalid queue ID", result.Message);
    }

    [Fact]
    public async Task Mail_queued_while_no_daemon_ran_is_delivered_at_start_up()
    {
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = upstream.Url() }], HeloName = "edge.test", Jitter = 0, ControlSocket = false,
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
            Upstreams = [new UpstreamOptions { Url = upstream.Url() }], HeloName = "edge.test", Jitter = 0, ControlSocket = false,
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
