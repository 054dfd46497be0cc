using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// Issue 4, faults: a spool step that fails for a reason other than space answers 451 4.3.0 (RFC 3463
/// §3.4, "other or undefined mail system status"), queues nothing, and leaves the daemon serving: once
/// the fault is gone the same session queues again.
/// The faults are made on the real binary with the immutable attribute (chattr +i, EPERM even for root)
/// on the spool's documented folders (MessageSpool: tmp/ is where a message is written, queue/ is where
/// the commit renames it to). They live on a private tmpfs, so a failed test leaves no undeletable folder.
/// </summary>
public sealed class SpoolWriteFailureTests(ITestOutputHelper output)
{
    [ImmutableTmpfsFact]
    public async Task A_message_whose_file_cannot_be_created_or_whose_commit_rename_fails_gets_451_4_3_0_and_is_not_queued()
    {
        using var dir = new TempDirectory("spoolfail");
        using var tmpfs = Tmpfs.Mount(dir.File("fs"), 4 << 20);
        var spool = Path.Combine(tmpfs.Path, "spool");
        var incoming = Path.Combine(spool, "tmp");
        var ready = Path.Combine(spool, "queue");
        // The default 64 MiB free-space floor is larger than this whole file system.
        var config = dir.Write("edgemail.toml", "[spool]\nmin_free = 0\n");
        var binary = EdgeMailBinary.X64;
        var before = SizedMessages.OfSize("before", 4096);
        var after = SizedMessages.OfSize("after", 4096);

        // serve relays what it queues; an upstream answering 421 keeps every message queued for the checks.
        await using var upstream = new DeferringUpstream();
        await using var server = await EdgeMailServer.StartAsync(binary, spool, output, config, ["--relay", upstream.Url]);
        Assert.True(Directory.Exists(incoming) && Directory.Exists(ready), $"the spool layout changed: no {incoming} or {ready}");
        await using var client = await SizedMessages.OpenAsync(server.Endpoint, "spoolfail.test");
        var first = await SizedMessages.SendAsync(client, before);
        Assert.True(first.Code == 250, $"before any fault: {first}\n{server.Diagnostics()}");
        var firstId = Queued.IdIn(first.Text);

        foreach (var (folder, step) in new[] { (incoming, "creating the message file"), (ready, "the commit's rename into queue/") })
        {
            Tmpfs.Immutable(folder, on: true);
            try
            {
                foreach (var declareSize in new[] { false, true })
                {
                    var refused = await SizedMessages.SendAsync(client, SizedMessages.OfSize($"refused {step}", 4096), declareSize);
                    Assert.True(refused.Text.StartsWith("451 4.3.0", StringComparison.Ordinal),
                        $"with {step} failing (SIZE= {declareSize}) the server answered '{refused}', expected 451 4.3.0\n{server.Diagnostics()}");
                    // The session survives the fault. A refusal at DATA (before 354) may leave the transaction
                    // open for a retry, so the client resets it, as smtplib and MailKit do after a failed DATA.
                    Assert.Equal(250, (await client.CommandAsync("RSET")).Code);
                }
            }
            finally
            {
                Tmpfs.Immutable(folder, on: false);
            }
            var queue = await EdgeMailCli.QueueAsync(binary, spool);
            Assert.True(queue.Select(m => m.Id).SequenceEqual([firstId]),
                $"after {step} failed the queue lists [{string.Join(", ", queue.Select(m => m.Id))}], expected only {firstId}");
            Assert.True(Directory.GetFiles(incoming).Length == 0,
                $"a refused message left its file behind in tmp/: {string.Join(", ", Directory.GetFiles(incoming).Select(Path.GetFileName))}");
        }

        var again = await SizedMessages.SendAsync(client, after, declareSize: true);
        Assert.True(again.Code == 250, $"once the faults were gone: {again}\n{server.Diagnostics()}");
        var final = await EdgeMailCli.QueueAsync(binary, spool);
        Assert.Equal(new[] { firstId, Queued.IdIn(again.Text) }.Order(), final.Select(m => m.Id).Order());
        Queued.HasSizeOf(final.Single(m => m.Id == firstId), before.Length);
        Queued.HasSizeOf(final.Single(m => m.Id != firstId), after.Length);
        Assert.Equal(0, await server.StopAsync());
    }
}
