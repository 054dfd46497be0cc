using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// Issue 4, faults: on a full disk the server refuses what does not fit with 452 4.3.1 (RFC 3463 §3.4
/// "mail system full"; RFC 1870 §6.2 at MAIL when SIZE= is declared), keeps accepting what does, keeps
/// every acknowledged message intact, and takes large messages again once space is freed.
/// The spool lives on a 4 MiB tmpfs: a file system that really fills, with [spool] min_free = 0 so the
/// file system itself, not the configured floor, is what runs out.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    const int FileSystemBytes = 4 << 20;
    const int BallastBytes = 1 << 20;
    const int LargeMessage = 256 << 10;
    const int SmallMessage = 32 << 10;

    [TmpfsFact]
    public async Task A_full_spool_refuses_what_does_not_fit_with_452_4_3_1_keeps_what_was_acknowledged_and_recovers_when_space_is_freed()
    {
        using var dir = new TempDirectory("diskfull");
        using var tmpfs = Tmpfs.Mount(dir.File("fs"), FileSystemBytes);
        var ballast = tmpfs.Ballast("ballast", BallastBytes);
        var spool = Path.Combine(tmpfs.Path, "spool");
        var config = dir.Write("edgemail.toml", "[spool]\nmin_free = 0\nmax_size = 0\n");
        var binary = EdgeMailBinary.X64;
        var acknowledged = new Dictionary<string, int>();

        // serve relays what it queues; an upstream answering 421 keeps every message queued for the checks.
        await using var upstream = new DeferringUpstream();
        await using var server = await EdgeMailServer.StartAsync(binary, spool, output, config, ["--relay", upstream.Url]);
        await using var client = await SizedMessages.OpenAsync(server.Endpoint, "diskfull.test");

        async Task Accepted(byte[] message, bool declareSize, string what)
        {
            var reply = await SizedMessages.SendAsync(client, message, declareSize);
            Assert.True(reply.Code == 250,
                $"{what} ({message.Length} bytes, {tmpfs.AvailableBytes} bytes free) was refused: {reply}\n{server.Diagnostics()}");
            acknowledged.Add(Queued.IdIn(reply.Text), message.Length);
        }

        // Fill the file system with large messages until less than two of them would fit.
        for (var n = 0; tmpfs.AvailableBytes >= 2 * LargeMessage; n++)
        {
            Assert.True(n < FileSystemBytes / LargeMessage, $"{n} large messages queued and the tmpfs still shows {tmpfs.AvailableBytes} bytes free");
            await Accepted(SizedMessages.OfSize($"fill {n}", LargeMessage), declareSize: false, $"fill message {n}");
        }
        var free = tmpfs.AvailableBytes;
        output.WriteLine($"{acknowledged.Count} messages of {LargeMessage} bytes queued; {free} bytes left on the {FileSystemBytes}-byte tmpfs");
        Assert.True(free >= LargeMessage - 16 * 1024, $"only {free} bytes left after filling; the test needs room for the small messages");

        // Bigger than what is left: refused after DATA (the size only shows while streaming) ...
        var tooBig = SizedMessages.OfSize("does not fit", (int)free + 64 * 1024);
        var afterData = await SizedMessages.SendAsync(client, tooBig);
        Assert.True(afterData.Text.StartsWith("452 4.3.1", StringComparison.Ordinal),
            $"a {tooBig.Length}-byte message with {free} bytes free got '{afterData}', expected 452 4.3.1\n{server.Diagnostics()}");

        // ... and at MAIL when the client declares the size (RFC 1870 §6.2), before sending a byte.
        var atMail = await SizedMessages.SendAsync(client, tooBig, declareSize: true);
        Assert.True(atMail.Text.StartsWith("452 4.3.1", StringComparison.Ordinal),
            $"MAIL FROM with SIZE={tooBig.Length} and {free} bytes free got '{atMail}', expected 452 4.3.1\n{server.Diagnostics()}");

        // What still fits is still taken, on the same session, with and without SIZE=.
        await Accepted(SizedMessages.OfSize("small 1", SmallMessage), declareSize: false, "a small message after the refusals");
        await Accepted(SizedMessages.OfSize("small 2", SmallMessage), declareSize: true, "a small message with SIZE= after the refusals");
        await Accepted(SizedMessages.OfSize("small 3", SizedMessages.Minimum), declareSize: false, "a tiny message after the refusals");

        await QueueHoldsExactly(binary, spool, acknowledged, "with the spool full");

        // Space comes back: the message refused for want of room is taken now, declared and undeclared.
        File.Delete(ballast);
        await Accepted(tooBig, declareSize: true, "the formerly refused message with SIZE= once the ballast was deleted");
        await Accepted(SizedMessages.OfSize("fits again", tooBig.Length), declareSize: false, "a message of the same size without SIZE=");
        Assert.Equal(221, (await client.CommandAsync("QUIT")).Code);

        await QueueHoldsExactly(binary, spool, acknowledged, "after space was freed");
        output.WriteLine($"{acknowledged.Count} messages acknowledged and listed with their sizes; two refused with 452 4.3.1; {tmpfs.AvailableBytes} bytes free at the end");
    }

    // Every acknowledged message listed with the size it was sent with (plus our Received: header), and
    // nothing else: a refused message must leave nothing in the queue.
    static async Task QueueHoldsExactly(EdgeMailBinary binary, string spool, Dictionary<string, int> acknowledged, string when)
    {
        var queue = await EdgeMailCli.QueueAsync(binary, spool);
        var listed = queue.Select(m => m.Id).ToHashSet();
        var missing = acknowledged.Keys.Where(id => !listed.Contains(id)).ToList();
        var extra = listed.Where(id => !acknowledged.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{when}: acknowledged but not listed [{string.Join(", ", missing)}]; listed but never acknowledged [{string.Join(", ", extra)}]");
        foreach (var entry in queue) Queued.HasSizeOf(entry, acknowledged[entry.Id]);
    }
}
