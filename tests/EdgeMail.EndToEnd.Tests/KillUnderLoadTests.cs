using System.Text.RegularExpressions;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// Issue 4, faults: kill -9 at random moments under load, many rounds in a row on one spool. Every
/// message acknowledged with 250 is still queued after the restart, with its size; nothing half-written
/// is listed; recovery never finds a committed file it cannot read.
/// A failure names its seed: EDGEMAIL_FAULT_SEED=&lt;seed&gt; (see <see cref="KillRounds"/>) replays the same
/// kill points and message sizes.
/// </summary>
public sealed partial class KillUnderLoadTests(ITestOutputHelper output)
{
    const int Rounds = 10;

    // The spool's own recovery line (MessageSpool.Recover), logged by serve at start-up.
    [GeneratedRegex(@"spool: opened .*: (\d+) queued, (\d+) temporary removed, (\d+) moved to corrupt/")]
    private static partial Regex RecoveryLine();

    [Fact]
    public async Task Every_message_acknowledged_before_a_kill_9_is_queued_after_restart_and_nothing_half_written_is_listed()
    {
        var (seed, random) = KillRounds.Seeded(output);

        using var dir = new TempDirectory("kill9");
        var binary = EdgeMailBinary.X64;
        var spool = dir.File("spool");
        var ledger = new KillLedger();
        var halfWrittenDiscarded = 0;
        var committedWithoutReply = 0;
        // serve relays what it queues; an upstream answering 421 keeps every message queued for the checks.
        await using var upstream = new DeferringUpstream();
        string[] relay = ["--relay", upstream.Url];

        for (var round = 1; round <= Rounds + 1; round++)
        {
            // Start (after round 1 this is the restart after a kill -9) and check before any new mail.
            await using var server = await EdgeMailServer.StartAsync(binary, spool, round == Rounds + 1 ? output : null, extraArguments: relay);
            var recovery = RecoveryLine().Match(server.Log);
            Assert.True(recovery.Success, $"round {round}: no spool recovery line in the start-up log\n{server.Diagnostics()}");
            Assert.True(recovery.Groups[3].Value == "0",
                $"round {round} (seed {seed}): recovery moved {recovery.Groups[3].Value} committed files to corrupt/\n{server.Diagnostics()}");
            halfWrittenDiscarded += int.Parse(recovery.Groups[2].Value);
            committedWithoutReply = await CheckQueueAsync(binary, spool, ledger, $"restart {round - 1} (seed {seed})");
            if (round == Rounds + 1)
            {
                Assert.Equal(0, await server.StopAsync());
                break;
            }

            await KillRounds.LoadAndKillAsync(server, round, random, ledger, seed, output);
        }

        var summary = $"{Rounds} rounds of kill -9, {ledger.Acknowledged.Count} messages acknowledged and all still queued, " +
                      $"{ledger.InFlight.Count} in flight at the kills ({committedWithoutReply} of them committed whole before the reply got out), " +
                      $"{halfWrittenDiscarded} half-written files discarded by recovery (seed {seed})";
        output.WriteLine(summary);
        Assert.True(ledger.Acknowledged.Count >= Rounds, summary);
    }

    // Returns how many listed messages were never acknowledged (whole messages whose 250 the kill swallowed).
    static async Task<int> CheckQueueAsync(EdgeMailBinary binary, string spool, KillLedger ledger, string when)
    {
        var queue = await EdgeMailCli.QueueAsync(binary, spool);
        var listed = queue.ToDictionary(m => m.Id);
        var missing = ledger.Acknowledged.Keys.Where(id => !listed.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0,
            $"after {when}: {missing.Count} of {ledger.Acknowledged.Count} acknowledged messages are not listed: {string.Join(", ", missing)}");
        var inFlight = ledger.InFlight.ToList();
        foreach (var entry in queue)
        {
            if (ledger.Acknowledged.TryGetValue(entry.Id, out var sent))
            {
                Queued.HasSizeOf(entry, sent);
                continue;
            }
            // Not acknowledged: only a message whose reply the kill swallowed may be here, and only whole.
            var whole = inFlight.Any(size => entry.Size >= size + "Received: ".Length + entry.Id.Length && entry.Size <= size + 1024);
            Assert.True(whole,
                $"after {when}: {entry.Id} ({entry.Size} bytes) is listed but was never acknowledged and matches no message in flight " +
                $"at a kill [{string.Join(", ", inFlight)}]: half-written or invented");
        }
        return queue.Count - ledger.Acknowledged.Count;
    }
}
