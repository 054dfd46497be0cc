using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>Issue 5's sendmail command drops messages without a daemon: the same file format in
/// maildrop/, committed durably; the daemon imports drops into the queue.</summary>
public class MaildropTests
{
    private static Envelope LocalEnvelope() => new()
    {
        Sender = "root@pi.local",
        Recipients = ["admin@example.net"],
        ClientAddress = "local",
        Protocol = "LOCAL",
    };

    [Fact]
    public async Task A_drop_works_without_a_daemon_and_is_imported_at_open()
    {
        using var dir = new TempSpoolDirectory();
        string id;
        await using (SpoolWriter drop = MessageSpool.CreateDrop(dir.Path, LocalEnvelope()))
        {
            await drop.WriteAsync(Mail.Bytes("Subject: cron\r\n\r\ndisk 91%\r\n"));
            await drop.CommitAsync();
            id = drop.QueueId;
        }
        Assert.Equal([id], dir.Files("maildrop"));
        Assert.Empty(dir.Files("maildrop/tmp"));

        using MessageSpool spool = MessageSpool.Open(dir.Options());
        Assert.Equal(1, spool.Recovery.Imported);
        QueueEntry entry = Assert.Single(spool.List());
        Assert.Equal(id, entry.Id);
        Assert.Equal("LOCAL", entry.Envelope.Protocol);
        Assert.Equal(Mail.Bytes("Subject: cron\r\n\r\ndisk 91%\r\n"), Mail.ReadAll(spool, id));
        Assert.Empty(dir.Files("maildrop"));
        Assert.Equal([id], dir.Files("queue"));
    }

    [Fact]
    public async Task Import_on_a_running_spool_queues_every_valid_drop_and_announces_it()
    {
        using var dir = new TempSpoolDirectory();
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(dir.Options(), null, fs);
        var announced = new List<string>();
        spool.Committed += announced.Add;

        var dropped = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            await using SpoolWriter drop = MessageSpool.CreateDrop(dir.Path, LocalEnvelope());
            await drop.WriteAsync(Mail.Message(1000, i));
            await drop.CommitAsync();
            dropped.Add(drop.QueueId);
        }
        int dirFsyncs = fs.Calls(SpoolStep.FlushDirectory);

        Assert.Equal(3, spool.ImportMaildrop());
        Assert.Equal(dropped, announced);
        Assert.Equal(dropped, spool.List().Select(e => e.Id));
        Assert.Equal(dirFsyncs + 1, fs.Calls(SpoolStep.FlushDirectory));  // one fsync for the batch
        Assert.Equal(0, spool.ImportMaildrop());
    }

    [Fact]
    public async Task A_damaged_drop_goes_to_corrupt_and_an_unfinished_one_is_left_alone()
    {
        using var dir = new TempSpoolDirectory();
        using MessageSpool spool = MessageSpool.Open(dir.Options());
        await using SpoolWriter good = MessageSpool.CreateDrop(dir.Path, LocalEnvelope());
        await good.WriteAsync(Mail.Bytes("ok"));
        await good.CommitAsync();
        string bad = QueueId.New();
        File.WriteAllText(Path.Combine(dir.Sub("maildrop"), bad), "garbage");
        SpoolWriter unfinished = MessageSpool.CreateDrop(dir.Path, LocalEnvelope());
        await unfinished.WriteAsync(Mail.Bytes("still typing"));

        Assert.Equal(1, spool.ImportMaildrop());
        Assert.Equal(good.QueueId, Assert.Single(spool.List()).Id);
        Assert.Equal([bad], dir.Files("corrupt"));
        Assert.Equal([unfinished.QueueId], dir.Files("maildrop/tmp"));  // a sendmail still writing is not disturbed

        await unfinished.CommitAsync();
        Assert.Equal(1, spool.ImportMaildrop());
        Assert.Equal(2, spool.List().Count);
    }

    [Fact]
    public async Task A_drop_that_fails_to_commit_leaves_nothing_in_maildrop()
    {
        using var dir = new TempSpoolDirectory();
        var fs = new FaultInjectingFileSystem();
        SpoolWriter drop = MessageSpool.CreateDrop(dir.Path, LocalEnvelope(), fs);
        await drop.WriteAsync(Mail.Bytes("x"));
        fs.FailOn(SpoolStep.FlushDirectory);
        Assert.Equal(SpoolError.IoError, (await Assert.ThrowsAsync<SpoolException>(() => drop.CommitAsync().AsTask())).Error);
        Assert.Empty(dir.Files("maildrop"));
        Assert.Empty(dir.Files("maildrop/tmp"));
    }
}
