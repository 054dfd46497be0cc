using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// Issue 4, faults, with the relay: kill -9 at random moments while `serve --relay` receives and delivers.
/// Every message acknowledged with 250 reaches the upstream at least once after the restarts (a message
/// delivered just before the kill and not yet removed may arrive twice; that is the accepted price).
/// </summary>
public sealed class RelayKillTests(ITestOutputHelper output)
{
    const int RelayRounds = 5;
    // Deliveries to a loopback sink take milliseconds; the bound only keeps a stuck relay from holding the suite.
    static readonly TimeSpan RelayLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Every_message_acknowledged_before_a_kill_9_during_relaying_reaches_the_upstream_at_least_once_after_restart()
    {
        var (seed, random) = KillRounds.Seeded(output);

        using var dir = new TempDirectory("kill9-relay");
        var binary = EdgeMailBinary.X64;
        var spool = dir.File("spool");
        var ledger = new KillLedger();
        await using var sink = await RecordingSink.StartAsync();
        string[] relay = ["--relay", sink.Url];

        // Each round relays while it receives, so the kill lands in deliveries as well as in DATA.
        for (var round = 1; round <= RelayRounds; round++)
        {
            await using var server = await EdgeMailServer.StartAsync(binary, spool, extraArguments: relay);
            await KillRounds.LoadAndKillAsync(server, round, random, ledger, seed, output);
        }

        // The last restart delivers what is left; a message delivered twice is allowed (at least once),
        // a message never delivered is lost mail.
        await using (var server = await EdgeMailServer.StartAsync(binary, spool, output, extraArguments: relay))
        {
            var subjects = ledger.AcknowledgedSubjects.ToList();
            var all = await sink.WaitForAsync(subjects, RelayLimit);
            var lost = subjects.Where(s => !sink.Delivered.ContainsKey(s)).ToList();
            var summary = $"{RelayRounds} rounds of kill -9 while relaying, {subjects.Count} messages acknowledged, " +
                          $"{subjects.Count - lost.Count} arrived at the upstream, {sink.Delivered.Values.Count(n => n > 1)} of them more than once " +
                          $"(seed {seed})";
            output.WriteLine(summary);
            Assert.True(all && lost.Count == 0,
                $"{summary}; after {RelayLimit.TotalSeconds} s these never arrived: {string.Join(", ", lost)}\n" +
                $"queue: {string.Join(", ", (await EdgeMailCli.QueueAsync(binary, spool)).Select(m => m.Id))}\n{server.Diagnostics()}\n" +
                $"--- sink ---\n{sink.Log}");
            Assert.Equal(0, await server.StopAsync());
        }
    }
}
