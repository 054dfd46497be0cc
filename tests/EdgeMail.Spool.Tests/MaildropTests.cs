using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>Issue 5's sendmail command drops messages without a daemon: the same file format in
/// maildrop/, committed durably; the daemon imports drops into the queue.</summary>
public sealed class MaildropTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

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
        string id;
        await using (SpoolWriter drop = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope()))
        {
            await drop.WriteAsync(Mail.Bytes("Subject: cron\r\n\r\ndisk 91%\r\n"));
            await drop.CommitAsync();
            id = drop.QueueId;
        }
        Assert.Equal([id], _dir.Files("maildrop"));
        Assert.Empty(_dir.Files("maildrop/tmp"));

        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Equal(1, spool.Recovery.Imported);
        QueueEntry entry = Assert.Single(spool.List());
        Assert.Equal(id, entry.Id);
        Assert.Equal("LOCAL", entry.Envelope.Protocol);
        Assert.Equal(Mail.Bytes("Subject: cron\r\n\r\ndisk 91%\r\n"), Mail.ReadAll(spool, id));
        Assert.Empty(_dir.Files("maildrop"));
        Assert.Equal([id], _dir.Files("queue"));
    }

    [Fact]
    public async Task Import_on_a_running_spool_queues_every_valid_drop_and_announces_it()
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        var announced = new List<string>();
        spool.Committed += announced.Add;

        var dropped = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            await using SpoolWriter drop = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope());
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
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        await using SpoolWriter good = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope());
        await good.WriteAsync(Mail.Bytes("ok"));
        await good.CommitAsync();
        string bad = QueueId.New();
        File.WriteAllText(Path.Combine(_dir.Sub("maildrop"), bad), "garbage");
        SpoolWriter unfinished = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope());
        await unfinished.WriteAsync(Mail.Bytes("still typing"));

        Assert.Equal(1, spool.ImportMaildrop());
        Assert.Equal(good.QueueId, Assert.Single(spool.List()).Id);
        Assert.Equal([bad], _dir.Files("corrupt"));
        Assert.Equal([unfinished.QueueId], _dir.Files("maildrop/tmp"));  // a sendmail still writing is not disturbed

        await unfinished.CommitAsync();
        Assert.Equal(1, spool.ImportMaildrop());
        Assert.Equal(2, spool.List().Count);
    }

    [Fact]
    public async Task A_drop_that_fails_to_commit_leaves_nothing_in_maildrop()
    {
        var fs = new FaultInjectingFileSystem();
        SpoolWriter drop = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope(), fs);
        await drop.WriteAsync(Mail.Bytes("x"));
        fs.FailOn(SpoolStep.FlushDirectory);
        Assert.Equal(SpoolError.IoError, (await Assert.ThrowsAsync<SpoolException>(() => drop.CommitAsync().AsTask())).Error);
        Assert.Empty(_dir.Files("maildrop"));
        Assert.Empty(_dir.Files("maildrop/tmp"));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Drops_are_owner_only_unless_the_maildrop_is_set_group_id_then_group_readable_for_the_daemon()
    {
        // The device install makes maildrop/ (and maildrop/tmp/) 3733 with the daemon's group, so a drop written by
        // root's cron or another local user inherits that group; 0640 lets the daemon read and import it.
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (SpoolWriter plain = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope()))
        {
            await plain.CommitAsync();
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(_dir.Path, "maildrop", plain.QueueId)));
        }

        UnixFileMode dropBox = UnixFileMode.StickyBit | UnixFileMode.SetGroup | UnixFileMode.UserRead | UnixFileMode.UserWrite
            | UnixFileMode.UserExecute | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(Path.Combine(_dir.Path, "maildrop"), dropBox);
        File.SetUnixFileMode(Path.Combine(_dir.Path, "maildrop", "tmp"), dropBox);
        await using (SpoolWriter shared = MessageSpool.CreateDrop(_dir.Path, LocalEnvelope()))
        {
            await shared.CommitAsync();
            Assert.Equal(OwnerOnly | UnixFileMode.GroupRead, File.GetUnixFileMode(Path.Combine(_dir.Path, "maildrop", shared.QueueId)));
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void With_a_drop_box_maildrop_the_spool_root_stays_traversable_for_local_senders_but_never_listable()
    {
        const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        const UnixFileMode Traverse = UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        string maildrop = Path.Combine(_dir.Path, "maildrop");
        Directory.CreateDirectory(maildrop);
        File.SetUnixFileMode(maildrop, UnixFileMode.StickyBit | UnixFileMode.SetGroup | Owner | UnixFileMode.GroupWrite
            | UnixFileMode.GroupExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);    // 3733, as install.sh makes it

        File.SetUnixFileMode(_dir.Path, Owner | Traverse);                       // 0711, as install.sh makes it
        using (MessageSpool.Open(_dir.Options())) { }
        Assert.Equal(Owner | Traverse, File.GetUnixFileMode(_dir.Path));

        File.SetUnixFileMode(_dir.Path, Owner | Traverse | UnixFileMode.GroupRead | UnixFileMode.OtherRead); // 0755
        using (MessageSpool.Open(_dir.Options())) { }
        Assert.Equal(Owner | Traverse, File.GetUnixFileMode(_dir.Path));
    }
}
