using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>A 250 after DATA is a promise: the message is on disk before the reply leaves (issue 2, spool).</summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_message_acknowledged_with_250_survives_kill_9_and_two_restarts_with_its_bytes_intact()
    {
        using var dir = new TempDirectory("crash");
        var binary = EdgeMailBinary.X64;
        var spool = dir.File("spool");
        var message = Messages.Plain("crash");
        string id;

        await using (var server = await EdgeMailServer.StartAsync(binary, spool, output))
        {
            await using var client = await RawSmtpClient.ConnectAsync(server.Endpoint);
            Assert.Equal(220, (await client.ReadReplyAsync()).Code);
            Assert.Equal(250, (await client.CommandAsync("EHLO crash.test")).Code);
            Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<sensor@lan.test>")).Code);
            Assert.Equal(250, (await client.CommandAsync("RCPT TO:<ops@example.test>")).Code);
            Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
            await client.SendAsync(DotStuffed(message));
            await client.SendAsync(".\r\n");
            var queued = await client.ReadReplyAsync();
            // The power cut: no QUIT, no shutdown path, nothing flushed after the reply.
            await server.KillAsync();
            id = Queued.IdIn(queued.Text);
        }

        var afterCrash = await EdgeMailCli.SingleQueuedAsync(binary, spool, id);
        Assert.Equal("sensor@lan.test", afterCrash.Sender);
        Assert.Equal(["ops@example.test"], afterCrash.Recipients);
        Queued.HasSizeOf(afterCrash, message.Length);

        // Start-up recovery must keep a committed message exactly as it was, however often it runs.
        for (var restart = 1; restart <= 2; restart++)
        {
            await using var server = await EdgeMailServer.StartAsync(binary, spool, output);
            Assert.True(await server.StopAsync() == 0, $"restart {restart} did not exit 0 on SIGTERM\n{server.Diagnostics()}");
            var listed = await EdgeMailCli.SingleQueuedAsync(binary, spool, id);
            Assert.Equal((afterCrash.Sender, afterCrash.Size, afterCrash.Arrived), (listed.Sender, listed.Size, listed.Arrived));
            Assert.Equal(afterCrash.Recipients, listed.Recipients);
        }
    }

    [Fact]
    public async Task Messages_acknowledged_together_by_a_shared_fsync_all_survive_kill_9()
    {
        using var dir = new TempDirectory("crash-group");
        var binary = EdgeMailBinary.X64;
        var spool = dir.File("spool");
        const int Sessions = 12;
        string[] ids;

        await using (var server = await EdgeMailServer.StartAsync(binary, spool, output))
        {
            // Concurrent sessions are what group commit batches; each 250 must still mean "on disk".
            ids = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(async n =>
            {
                await using var client = await RawSmtpClient.ConnectAsync(server.Endpoint);
                Assert.Equal(220, (await client.ReadReplyAsync()).Code);
                Assert.Equal(250, (await client.CommandAsync($"EHLO client{n}.test")).Code);
                Assert.Equal(250, (await client.CommandAsync($"MAIL FROM:<sensor{n}@lan.test>")).Code);
                Assert.Equal(250, (await client.CommandAsync("RCPT TO:<ops@example.test>")).Code);
                Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
                await client.SendAsync(DotStuffed(Messages.Plain($"group {n}")));
                return Queued.IdIn((await client.CommandAsync(".")).Text);
            }));
            await server.KillAsync();
        }

        Assert.Equal(Sessions, ids.Distinct().Count());
        var queue = await EdgeMailCli.QueueAsync(binary, spool);
        var missing = ids.Except(queue.Select(m => m.Id)).ToList();
        Assert.True(missing.Count == 0, $"acknowledged but lost after kill -9: {string.Join(", ", missing)}");
        for (var n = 0; n < Sessions; n++)
            Assert.Equal($"sensor{n}@lan.test", queue.Single(m => m.Id == ids[n]).Sender);
    }

    // RFC 5321 §4.5.2: a line that starts with "." is sent with one more.
    static byte[] DotStuffed(byte[] message)
    {
        var text = System.Text.Encoding.Latin1.GetString(message);
        return System.Text.Encoding.Latin1.GetBytes(
            string.Join("\r\n", text.Split("\r\n").Select(l => l.StartsWith('.') ? "." + l : l)));
    }
}
