using System.Collections.Concurrent;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>What the clients of the kill -9 rounds saw.</summary>
public sealed class KillLedger
{
    /// <summary>Queue ID → bytes sent, for every 250.</summary>
    public readonly ConcurrentDictionary<string, int> Acknowledged = new();
    /// <summary>The Subject of every acknowledged message (unique per message), to find it at a relay upstream.</summary>
    public readonly ConcurrentQueue<string> AcknowledgedSubjects = new();
    /// <summary>Sizes of messages whose bytes went out but whose reply never came: the server may have
    /// committed them before it died (and that is fine), but only whole.</summary>
    public readonly ConcurrentBag<int> InFlight = new();
    public readonly ConcurrentQueue<string> Unexpected = new();
}

/// <summary>
/// One round of the kill -9 fault tests: concurrent raw SMTP clients send messages of random sizes, and
/// the server is killed after a random number of acknowledgements. Everything random comes from one seed,
/// printed first; EDGEMAIL_FAULT_SEED=&lt;seed&gt; replays the same kill points and message sizes.
/// </summary>
public static class KillRounds
{
    public const string SeedVariable = "EDGEMAIL_FAULT_SEED";
    const int Clients = 4;
    const int MaxAcknowledgementsBeforeKill = 40;
    const int MaxMessageSize = 48 * 1024;

    public static (int Seed, Random Random) Seeded(ITestOutputHelper output)
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed)
            : Random.Shared.Next();
        output.WriteLine($"seed {seed} (rerun with {SeedVariable}={seed})");
        return (seed, new Random(seed));
    }

    // Concurrent clients send until the round's random number of acknowledgements is reached; then kill -9.
    public static async Task LoadAndKillAsync(EdgeMailServer server, int round, Random random, KillLedger ledger, int seed,
                                              ITestOutputHelper output)
    {
        var killAfter = random.Next(1, MaxAcknowledgementsBeforeKill + 1);
        var acknowledgedThisRound = 0;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clients = Enumerable.Range(0, Clients).Select(c =>
        {
            var clientRandom = new Random(random.Next());
            return Task.Run(() => ClientAsync(server, $"r{round}c{c}", clientRandom, ledger, () =>
            {
                if (Interlocked.Increment(ref acknowledgedThisRound) == killAfter) killNow.TrySetResult();
            }, () => killNow.Task.IsCompleted));
        }).ToList();

        // Kill after the chosen number of 250s, not after a delay: the other clients are mid-transaction.
        var first = await Task.WhenAny(killNow.Task, Task.WhenAll(clients));
        Assert.True(first == killNow.Task,
            $"round {round} (seed {seed}): the clients stopped after {acknowledgedThisRound} of {killAfter} acknowledgements: " +
            $"{string.Join("; ", ledger.Unexpected)}\n{server.Diagnostics()}");
        await server.KillAsync();
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"round {round}: killed after {killAfter} acknowledgements ({acknowledgedThisRound} acknowledged in the round)");
        Assert.True(ledger.Unexpected.IsEmpty, $"round {round} (seed {seed}): {string.Join("; ", ledger.Unexpected)}\n{server.Diagnostics()}");
    }

    // One SMTP session sending messages of random sizes back to back until the server dies.
    static async Task ClientAsync(EdgeMailServer server, string name, Random random, KillLedger ledger, Action acknowledged,
                                   Func<bool> killed)
    {
        try
        {
            await using var client = await SizedMessages.OpenAsync(server.Endpoint, $"{name}.test");
            for (var n = 0; ; n++)
            {
                var subject = $"{name} {n}";
                var message = SizedMessages.OfSize(subject, random.Next(SizedMessages.Minimum, MaxMessageSize));
                var sent = false;
                SmtpReply reply;
                try
                {
                    reply = await SizedMessages.SendAsync(client, message, declareSize: random.Next(2) == 0,
                                                          sender: $"{name}@lan.test", sending: () => sent = true);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    if (sent) ledger.InFlight.Add(message.Length);
                    if (!killed()) ledger.Unexpected.Enqueue($"{name} message {n}: connection lost before the kill: {e.Message}");
                    return;
                }
                if (reply.Code != 250)
                {
                    ledger.Unexpected.Enqueue($"{name} message {n} ({message.Length} bytes) refused: {reply}");
                    return;
                }
                ledger.Acknowledged[Queued.IdIn(reply.Text)] = message.Length;
                ledger.AcknowledgedSubjects.Enqueue(subject);
                acknowledged();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // Connecting or the greeting cut short by the kill.
            if (!killed()) ledger.Unexpected.Enqueue($"{name} session: connection lost before the kill: {e.Message}");
        }
    }
}
