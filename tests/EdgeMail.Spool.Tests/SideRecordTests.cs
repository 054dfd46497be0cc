using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>STYLE 8: the message file is written once; attempts, per-recipient outcomes and retry
/// times go to append-only side records; hold/release/delete are renames and removals.</summary>
public sealed class SideRecordTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_000);

    [Fact]
    public async Task Attempts_and_recipient_outcomes_are_merged_into_the_entry_and_survive_a_restart()
    {
        string id;
        byte[] messageFileBefore;
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            id = await Mail.QueueAsync(spool, Mail.Bytes("x"), Mail.Envelope("a@x.example", "b@y.example", "c@z.example"));
            messageFileBefore = File.ReadAllBytes(Path.Combine(_dir.Sub("queue"), id));
            spool.RecordAttempt(id, new AttemptRecord
            {
                When = T0,
                Recipients =
                [
                    new RecipientState("a@x.example", RecipientStatus.Delivered, "250 2.0.0 ok"),
                    new RecipientState("b@y.example", RecipientStatus.Pending, "451 4.7.1 greylisted"),
                ],
                Error = "451 4.7.1 greylisted",
                NextAttempt = T0.AddMinutes(5),
            });
            spool.RecordAttempt(id, new AttemptRecord
            {
                When = T0.AddMinutes(5),
                Recipients = [new RecipientState("c@z.example", RecipientStatus.Failed, "550 5.1.1 no such user")],
                Error = "550 5.1.1 no such user",
                NextAttempt = T0.AddMinutes(20),
            });
            AssertMerged(spool.Get(id)!);
        }

        Assert.Equal(messageFileBefore, File.ReadAllBytes(Path.Combine(_dir.Sub("queue"), id)));  // never rewritten
        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        AssertMerged(Assert.Single(reopened.List()));
        AssertMerged(Assert.Single(MessageSpool.ReadQueue(_dir.Path)));

        static void AssertMerged(QueueEntry entry)
        {
            Assert.Equal(2, entry.Attempts);
            Assert.Equal("550 5.1.1 no such user", entry.LastError);
            Assert.Equal(T0.AddMinutes(20), entry.NextAttempt);
            Assert.Equal(
                [
                    new RecipientState("a@x.example", RecipientStatus.Delivered, "250 2.0.0 ok"),
                    new RecipientState("b@y.example", RecipientStatus.Pending, "451 4.7.1 greylisted"),
                    new RecipientState("c@z.example", RecipientStatus.Failed, "550 5.1.1 no such user"),
                ],
                entry.Recipients);
        }
    }

    [Fact]
    public async Task A_torn_last_side_record_is_ignored_and_the_next_attempt_replaces_it()
    {
        string id;
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
            spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [], Error = "first" });
        }
        // A crash in the middle of the second append.
        using (var state = new FileStream(Path.Combine(_dir.Sub("state"), id), FileMode.Append))
            state.Write([40, 0, 0, 0, 1, 2, 3]);

        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            QueueEntry entry = spool.Get(id)!;
            Assert.Equal(1, entry.Attempts);
            Assert.Equal("first", entry.LastError);
            Assert.Equal(0, spool.Recovery.MovedToCorrupt);
            spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [], Error = "second" });
        }
        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        Assert.Equal(2, reopened.Get(id)!.Attempts);
        Assert.Equal("second", reopened.Get(id)!.LastError);
    }

    /// <summary>A record as the first version wrote it, laid out here by hand (not by the encoder under test).</summary>
    private static byte[] Version1Record(DateTimeOffset when, DateTimeOffset? next, string? error, params (string Address, byte Status, string? Reply)[] recipients)
    {
        var payload = new List<byte> { 1 };
        payload.AddRange(BitConverter.GetBytes(when.ToUnixTimeMilliseconds()));
        payload.AddRange(BitConverter.GetBytes(next?.ToUnixTimeMilliseconds() ?? long.MinValue));
        void Text(string? value)
        {
            if (value is null) { payload.AddRange(BitConverter.GetBytes(-1)); return; }
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(value);
            payload.AddRange(BitConverter.GetBytes(bytes.Length));
            payload.AddRange(bytes);
        }
        Text(error);
        payload.AddRange(BitConverter.GetBytes((ushort)recipients.Length));
        foreach (var (address, status, reply) in recipients)
        {
            Text(address);
            payload.Add(status);
            Text(reply);
        }
        byte[] body = [.. payload];
        return [.. BitConverter.GetBytes(body.Length), .. body, .. BitConverter.GetBytes(System.IO.Hashing.Crc32.HashToUInt32(body))];
    }

    [Fact]
    public async Task A_side_record_written_by_the_first_version_still_reads()
    {
        using var dir = new TempSpoolDirectory();
        string id;
        using (MessageSpool spool = MessageSpool.Open(dir.Options()))
            id = await Mail.QueueAsync(spool, Mail.Bytes("x"), Mail.Envelope("a@x.example", "b@y.example"));
        File.WriteAllBytes(Path.Combine(dir.Sub("state"), id),
            Version1Record(T0, T0.AddMinutes(5), "451 4.7.1 greylisted", ("a@x.example", 1, "250 2.0.0 ok"), ("b@y.example", 0, "451 4.7.1 greylisted")));

        using MessageSpool reopened = MessageSpool.Open(dir.Options());
        QueueEntry entry = reopened.Get(id)!;
        Assert.Equal((1, "451 4.7.1 greylisted", T0.AddMinutes(5), false), (entry.Attempts, entry.LastError, entry.NextAttempt, entry.DelayWarned));
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Pending], entry.Recipients.Select(r => r.Status));
    }

    [Fact]
    public void A_record_without_flags_is_written_byte_for_byte_as_the_first_version_wrote_it()
    {
        // So a spool written now still reads with the version before (unless a record carries a flag).
        var attempt = new AttemptRecord
        {
            When = T0,
            NextAttempt = null,
            Error = "x",
            Recipients = [new RecipientState("a@x.example", RecipientStatus.Failed, null)],
        };
        Assert.Equal(Version1Record(T0, null, "x", ("a@x.example", 2, null)), SideRecord.Encode(attempt));
    }

    [Fact]
    public async Task A_partial_record_makes_outcomes_durable_without_counting_as_an_attempt()
    {
        using var dir = new TempSpoolDirectory();
        string id;
        using (MessageSpool spool = MessageSpool.Open(dir.Options()))
        {
            id = await Mail.QueueAsync(spool, Mail.Bytes("x"), Mail.Envelope("a@x.example", "b@y.example"));
            spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [], Error = "451 first", NextAttempt = T0.AddMinutes(5) });
            spool.RecordAttempt(id, new AttemptRecord
            {
                When = T0.AddMinutes(5),
                Recipients = [new RecipientState("a@x.example", RecipientStatus.Delivered, "250 ok")],
                Partial = true,
            });
        }

        using MessageSpool reopened = MessageSpool.Open(dir.Options());
        QueueEntry entry = reopened.Get(id)!;
        Assert.Equal((1, "451 first", T0.AddMinutes(5)), (entry.Attempts, entry.LastError, entry.NextAttempt));
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Pending], entry.Recipients.Select(r => r.Status));
    }

    [Fact]
    public async Task The_delay_notice_once_recorded_is_remembered_by_later_records_and_after_a_restart()
    {
        using var dir = new TempSpoolDirectory();
        string id;
        using (MessageSpool spool = MessageSpool.Open(dir.Options()))
        {
            id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
            Assert.False(spool.Get(id)!.DelayWarned);
            spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [], DelayWarned = true, NextAttempt = T0.AddHours(1) });
            spool.RecordAttempt(id, new AttemptRecord { When = T0.AddHours(1), Recipients = [], NextAttempt = T0.AddHours(2) });
            Assert.True(spool.Get(id)!.DelayWarned);
        }

        using MessageSpool reopened = MessageSpool.Open(dir.Options());
        Assert.True(reopened.Get(id)!.DelayWarned);
        Assert.Equal(2, reopened.Get(id)!.Attempts);
        Assert.True(Assert.Single(MessageSpool.ReadQueue(dir.Path)).DelayWarned);
    }

    [Fact]
    public async Task Recording_an_attempt_fsyncs_the_side_record_and_its_new_name_once()
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        string id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
        int files = fs.Calls(SpoolStep.FlushFile), dirs = fs.Calls(SpoolStep.FlushDirectory);
        spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [] });
        spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [] });
        Assert.Equal(files + 2, fs.Calls(SpoolStep.FlushFile));
        Assert.Equal(dirs + 1, fs.Calls(SpoolStep.FlushDirectory));
    }

    [Fact]
    public async Task Complete_removes_the_message_and_its_side_record()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
        spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [new RecipientState("ops@example.net", RecipientStatus.Delivered, "250 ok")] });
        spool.Complete(id);
        spool.Complete(id); // idempotent
        Assert.Null(spool.Get(id));
        Assert.Empty(spool.List());
        Assert.Empty(_dir.Files("queue"));
        Assert.Empty(_dir.Files("state"));
        Assert.Throws<KeyNotFoundException>(() => spool.OpenMessage(id));
        Assert.Throws<KeyNotFoundException>(() => spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [] }));
    }

    [Fact]
    public async Task Hold_and_release_move_the_file_between_queue_and_hold()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string id = await Mail.QueueAsync(spool, Mail.Bytes("held body"));

        Assert.True(spool.Hold(id));
        Assert.False(spool.Hold(id));
        Assert.True(spool.Get(id)!.Held);
        Assert.Equal([id], _dir.Files("hold"));
        Assert.Empty(_dir.Files("queue"));
        Assert.Equal(Mail.Bytes("held body"), Mail.ReadAll(spool, id));

        Assert.True(spool.Release(id));
        Assert.False(spool.Release(id));
        Assert.False(spool.Get(id)!.Held);
        Assert.Equal([id], _dir.Files("queue"));
        Assert.Empty(_dir.Files("hold"));
    }

    [Fact]
    public async Task Delete_removes_queued_and_held_messages_and_says_whether_there_was_one()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string queued = await Mail.QueueAsync(spool, Mail.Bytes("a"));
        string held = await Mail.QueueAsync(spool, Mail.Bytes("b"));
        spool.Hold(held);

        Assert.True(spool.Delete(queued));
        Assert.True(spool.Delete(held));
        Assert.False(spool.Delete(queued));
        Assert.False(spool.Delete(QueueId.New()));
        Assert.Empty(spool.List());
        Assert.Empty(_dir.Files("queue"));
        Assert.Empty(_dir.Files("hold"));
        Assert.Equal(0, spool.UsedBytes);
    }

    [Fact]
    public async Task A_stream_opened_before_the_message_is_held_or_completed_still_reads_it()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string id = await Mail.QueueAsync(spool, Mail.Bytes("being delivered"));
        using Stream stream = spool.OpenMessage(id);
        spool.Hold(id);
        spool.Complete(id);
        using var reader = new StreamReader(stream);
        Assert.Equal("being delivered", reader.ReadToEnd());
    }

    [Fact]
    public async Task The_relay_can_read_and_record_while_sessions_commit()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        var delivered = new System.Collections.Concurrent.ConcurrentBag<string>();
        var relay = new System.Threading.Channels.UnboundedChannelOptions();
        var queue = System.Threading.Channels.Channel.CreateUnbounded<string>(relay);
        spool.Committed += id => queue.Writer.TryWrite(id);

        Task relayLoop = Task.Run(async () =>
        {
            await foreach (string id in queue.Reader.ReadAllAsync())
            {
                Assert.Equal(Mail.Bytes($"msg {id.Length}"), Mail.ReadAll(spool, id));
                spool.RecordAttempt(id, new AttemptRecord { When = T0, Recipients = [new RecipientState("ops@example.net", RecipientStatus.Delivered, "250")] });
                spool.Complete(id);
                delivered.Add(id);
            }
        });
        string[] ids = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => Task.Run(() => Mail.QueueAsync(spool, Mail.Bytes("msg 16")))));
        queue.Writer.Complete();
        await relayLoop;

        Assert.Equal(ids.Order(), delivered.Order());
        Assert.Empty(spool.List());
        Assert.Empty(_dir.Files("queue"));
        Assert.Empty(_dir.Files("state"));
    }
}
