using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>STYLE 7: start-up recovery discards half-written files, moves unreadable ones to corrupt/
/// with one log line each (never deletes them) and keeps everything valid.</summary>
public sealed class RecoveryTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string[]> QueueSomeAsync(int count)
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        var ids = new string[count];
        for (int i = 0; i < count; i++)
            ids[i] = await Mail.QueueAsync(spool, Mail.Message(3000 + i, seed: i));
        return ids;
    }

    private string QueuePath(string id) => Path.Combine(_dir.Sub("queue"), id);

    private static void Damage(string path, Action<FileStream> damage)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        damage(file);
    }

    [Fact]
    public async Task Truncated_flipped_endless_and_garbage_files_move_to_corrupt_with_a_log_line_each()
    {
        string[] ids = await QueueSomeAsync(7);
        // ids[0], ids[1] stay intact
        Damage(QueuePath(ids[2]), f => f.SetLength(f.Length - 1000));                         // truncated body
        Damage(QueuePath(ids[3]), f => { f.Position = 1500; int b = f.ReadByte(); f.Position = 1500; f.WriteByte((byte)(b ^ 0x01)); }); // one bit
        Damage(QueuePath(ids[4]), f => { f.Position = f.Length - 4; f.Write("XXX\n"u8); });        // no END marker
        Damage(QueuePath(ids[5]), f => { f.Position = 30; f.WriteByte(0xFF); });               // envelope damaged
        File.WriteAllBytes(QueuePath(ids[6]), Mail.Message(5000, 99));                          // garbage
        File.WriteAllText(QueuePath("not-an-id"), "stray");                                     // stray name

        var log = new ListLogger();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), log);

        Assert.Equal(new[] { ids[0], ids[1] }, spool.List().Select(e => e.Id));
        Assert.Equal(2, spool.Recovery.Recovered);
        Assert.Equal(6, spool.Recovery.MovedToCorrupt);
        Assert.Equal(new[] { ids[0], ids[1] }, _dir.Files("queue"));
        Assert.Equal(ids[2..].Append("not-an-id").Order(StringComparer.Ordinal), _dir.Files("corrupt"));
        foreach (string name in ids[2..].Append("not-an-id"))
            Assert.Single(log.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"{name} to ", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("checksum mismatch", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("END marker", StringComparison.Ordinal));
        Assert.Equal(Mail.Message(3000, 0), Mail.ReadAll(spool, ids[0]));
    }

    [Fact]
    public async Task A_file_whose_header_names_another_id_is_not_trusted()
    {
        string[] ids = await QueueSomeAsync(1);
        string other = QueueId.New();
        File.Move(QueuePath(ids[0]), QueuePath(other));
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Empty(spool.List());
        Assert.Equal([other], _dir.Files("corrupt"));
    }

    [Fact]
    public async Task Half_written_temporary_files_are_removed_because_they_were_never_acknowledged()
    {
        await QueueSomeAsync(1);
        File.WriteAllBytes(Path.Combine(_dir.Sub("tmp"), QueueId.New()), Mail.Message(100));
        File.WriteAllBytes(Path.Combine(_dir.Sub("tmp"), QueueId.New()), []);

        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Equal(2, spool.Recovery.TemporaryRemoved);
        Assert.Empty(_dir.Files("tmp"));
        Assert.Single(spool.List());
        Assert.Empty(_dir.Files("corrupt"));
    }

    [Fact]
    public async Task A_writer_abandoned_by_a_crash_leaves_only_a_temporary_file_that_recovery_removes()
    {
        var options = _dir.Options();
        MessageSpool crashed = MessageSpool.Open(options);
        SpoolWriter writer = crashed.Create(Mail.Envelope());
        await writer.WriteAsync(Mail.Message(10_000));
        crashed.Dispose(); // the process "dies": no commit, no abort

        using MessageSpool spool = MessageSpool.Open(options);
        Assert.Equal(1, spool.Recovery.TemporaryRemoved);
        Assert.Empty(spool.List());
        Assert.Equal(0, spool.UsedBytes);
    }

    [Fact]
    public async Task Damaged_held_messages_go_to_corrupt_and_good_held_ones_stay_held()
    {
        string[] ids = await QueueSomeAsync(2);
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            Assert.True(spool.Hold(ids[0]));
            Assert.True(spool.Hold(ids[1]));
        }
        Damage(Path.Combine(_dir.Sub("hold"), ids[1]), f => f.SetLength(f.Length / 2));

        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        QueueEntry held = Assert.Single(reopened.List());
        Assert.Equal(ids[0], held.Id);
        Assert.True(held.Held);
        Assert.Equal([ids[1]], _dir.Files("corrupt"));
    }

    [Fact]
    public async Task Side_records_without_a_message_are_removed_and_those_of_corrupt_messages_kept_beside_them()
    {
        string[] ids = await QueueSomeAsync(2);
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            spool.RecordAttempt(ids[1], new AttemptRecord { When = DateTimeOffset.UtcNow, Recipients = [], Error = "421 later" });
        }
        File.WriteAllText(Path.Combine(_dir.Sub("state"), QueueId.New()), "orphan");
        Damage(QueuePath(ids[1]), f => f.SetLength(10));

        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        Assert.Equal(1, reopened.Recovery.OrphanStateRemoved);
        Assert.Empty(_dir.Files("state"));
        Assert.Equal([ids[1], ids[1] + ".state"], _dir.Files("corrupt"));
    }

    [Fact]
    public async Task Corrupt_files_are_never_overwritten_in_corrupt()
    {
        string id = QueueId.New();
        Directory.CreateDirectory(_dir.Sub("queue"));
        Directory.CreateDirectory(_dir.Sub("corrupt"));
        File.WriteAllText(Path.Combine(_dir.Sub("corrupt"), id), "first");
        File.WriteAllText(QueuePath(id), "second");
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Equal([id, id + ".1"], _dir.Files("corrupt"));
        Assert.Equal("first", File.ReadAllText(Path.Combine(_dir.Sub("corrupt"), id)));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Space_used_is_recounted_at_open()
    {
        long used;
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            await Mail.QueueAsync(spool, Mail.Message(10_000));
            await Mail.QueueAsync(spool, Mail.Message(20_000));
            used = spool.UsedBytes;
        }
        Assert.InRange(used, 30_000, 31_000);
        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        Assert.Equal(used, reopened.UsedBytes);
        Assert.Equal(used, Directory.GetFiles(_dir.Sub("queue")).Sum(f => new FileInfo(f).Length));
    }

    [Fact]
    public void New_ids_after_a_restart_sort_after_every_queued_one_even_if_the_clock_went_back()
    {
        // A file named by a clock 150 ms ahead of ours (a Pi without RTC whose clock later stepped back).
        string ahead = QueueId.Compose(DateTimeOffset.UtcNow.AddMilliseconds(150), 7);
        Directory.CreateDirectory(_dir.Sub("queue"));
        File.WriteAllBytes(QueuePath(ahead), ValidQueueFile(ahead, Mail.Bytes("from the future")));

        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Equal(ahead, Assert.Single(spool.List()).Id);
        Assert.True(string.CompareOrdinal(QueueId.New(), ahead) > 0);
    }

    /// <summary>A queue file built from the format's own parts, independent of the writer.</summary>
    internal static byte[] ValidQueueFile(string id, byte[] message)
    {
        byte[] header = QueueFile.EncodeHeader(id, Mail.Envelope());
        var hash = new System.IO.Hashing.XxHash64();
        hash.Append(header);
        hash.Append(message);
        return [.. header, .. message, .. QueueFile.EncodeTrailer(message.Length, hash.GetCurrentHashAsUInt64())];
    }
}
