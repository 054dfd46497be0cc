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

    // RFC 5321 §4.5.2: a line that starts with "." is sent with one more.
    static byte[] DotStuffed(byte[] message)
    {
        var text = System.Text.Encoding.Latin1.GetString(message);
        return System.Text.Encoding.Latin1.GetBytes(
            string.Join("\r\n", text.Split("\r\n").Select(l => l.StartsWith('.') ? "." + l : l)));
    }
}
