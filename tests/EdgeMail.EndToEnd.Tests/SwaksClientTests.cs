using System.Text;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>swaks (Debian) as an independent client; it exits 0 only when every reply was the expected one.</summary>
public sealed class SwaksClientTests(ITestOutputHelper output)
{
    static Task<ToolResult> SwaksAsync(EdgeMailServer server, string from, string to, string dataFile, params string[] extra) =>
        Swaks.RunAsync(server, ["--ehlo", "swaks.test", "--from", from, "--to", to, "--data", "@" + dataFile, .. extra]);

    /// <summary>The queue's entry for the one message swaks was told "queued as ID" for.</summary>
    static Task<QueuedMessage> QueuedEntryAsync(EdgeMailServer server, ToolResult run) =>
        EdgeMailCli.SingleQueuedAsync(server.Binary, server.SpoolDirectory, Queued.IdIn(run.Stdout));

    [Fact]
    public async Task A_plain_swaks_session_is_acknowledged_and_queued()
    {
        using var dir = new TempDirectory("swaks");
        await using var server = await EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output);
        var message = Messages.Plain("swaks plain");

        var run = await SwaksAsync(server, "sensor@lan.test", "ops@example.test", dir.Write("m.eml", message));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("<-  220 ", run.Stdout);
        Assert.Contains("<-  221 ", run.Stdout);
        var entry = await QueuedEntryAsync(server, run);
        Assert.Equal("sensor@lan.test", entry.Sender);
        Assert.Equal(["ops@example.test"], entry.Recipients);
        Queued.HasSizeOf(entry, message.Length);
    }

    [Fact]
    public async Task With_PIPELINING_the_envelope_and_DATA_go_out_in_one_batch_and_the_replies_come_back_in_order()
    {
        using var dir = new TempDirectory("swaks-pipe");
        await using var server = await EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output);

        var run = await SwaksAsync(server, "sensor@lan.test", "ops@example.test", dir.Write("m.eml", Messages.Plain("swaks pipelined")),
                                   "--pipeline");

        Assert.True(run.ExitCode == 0, run.ToString());
        // RFC 2920 §3.1: MAIL, RCPT and DATA may be sent together; swaks prints what it sent, then the replies.
        var lines = run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var mail = lines.FindIndex(l => l.StartsWith(" -> MAIL FROM:", StringComparison.Ordinal));
        var data = lines.FindIndex(l => l == " -> DATA");
        var firstReplyAfterMail = lines.FindIndex(mail + 1, l => l.StartsWith("<-", StringComparison.Ordinal));
        Assert.True(mail >= 0 && data > mail && firstReplyAfterMail > data, $"MAIL/RCPT/DATA were not pipelined:\n{run.Stdout}");
        var replies = lines.Skip(firstReplyAfterMail).Where(l => l.StartsWith("<-", StringComparison.Ordinal)).Take(3)
                           .Select(l => l[4..7]).ToList();
        Assert.Equal(["250", "250", "354"], replies);
        await QueuedEntryAsync(server, run);
    }

    [Fact]
    public async Task An_8bit_UTF8_body_is_accepted_from_swaks_and_queued_whole()
    {
        using var dir = new TempDirectory("swaks-8bit");
        await using var server = await EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output);
        var message = Encoding.UTF8.GetBytes(
            "From: <sensor@lan.test>\r\nTo: <ops@example.test>\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
            "Kühlschrank 3: Tür offen seit 10 min — ½ Last.\r\n");

        var run = await SwaksAsync(server, "sensor@lan.test", "ops@example.test", dir.Write("m.eml", message));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("<-  250-8BITMIME", run.Stdout);
        var entry = await QueuedEntryAsync(server, run);
        Queued.HasSizeOf(entry, message.Length);
    }

    [Fact]
    public async Task Every_accepted_recipient_of_a_swaks_message_is_listed_in_order()
    {
        using var dir = new TempDirectory("swaks-rcpts");
        await using var server = await EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output);
        string[] recipients = ["one@example.test", "two@example.test", "three@other.test", "four@lan.test"];

        var run = await SwaksAsync(server, "sensor@lan.test", string.Join(',', recipients), dir.Write("m.eml", Messages.Plain("swaks many")));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(recipients.Length, run.Stdout.Split('\n').Count(l => l.StartsWith(" -> RCPT TO:", StringComparison.Ordinal)));
        var entry = await QueuedEntryAsync(server, run);
        Assert.Equal(recipients, entry.Recipients);
    }
}
