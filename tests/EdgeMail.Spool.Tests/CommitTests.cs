using System.Text;
using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>Issue 2: write → fsync(file) → rename into queue/ → fsync(dir) → only then acknowledged.</summary>
public sealed class CommitTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_committed_message_round_trips_envelope_and_bytes_exactly()
    {
        var envelope = new Envelope
        {
            Sender = "",  // the null reverse-path
            Recipients = ["a@example.net", "b@example.org"],
            ClientAddress = "::1",
            Helo = "pump-7",
            Protocol = "ESMTPA",
            Body = BodyType.EightBitMime,
            SmtpUtf8 = false,
            AuthenticatedUser = "pump",
            Arrived = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_123),
        };
        byte[] message = Mail.Bytes("Subject: level\r\n\r\n8-bit: \u00e9\u00e8\r\n");
        string id;
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
            id = await Mail.QueueAsync(spool, message, envelope);

        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        QueueEntry entry = Assert.Single(reopened.List());
        Assert.Equal(id, entry.Id);
        Assert.Equal(message.Length, entry.Size);
        Assert.Equal("", entry.Envelope.Sender);
        Assert.Equal(["a@example.net", "b@example.org"], entry.Envelope.Recipients);
        Assert.Equal("::1", entry.Envelope.ClientAddress);
        Assert.Equal("pump-7", entry.Envelope.Helo);
        Assert.Equal("ESMTPA", entry.Envelope.Protocol);
        Assert.Equal(BodyType.EightBitMime, entry.Envelope.Body);
        Assert.Equal("pump", entry.Envelope.AuthenticatedUser);
        Assert.Equal(envelope.Arrived, entry.Envelope.Arrived);
        Assert.All(entry.Recipients, r => Assert.Equal(RecipientStatus.Pending, r.Status));
        Assert.Equal(message, Mail.ReadAll(reopened, id));
    }

    [Fact]
    public async Task Utf8_addresses_and_header_breaking_characters_are_stored_verbatim()
    {
        var envelope = new Envelope
        {
            Sender = "größe@bücher.example",
            Recipients = ["用户@例子.广告", "x\r\nR evil@attacker", "δοκιμή@παράδειγμα.δοκιμή"],
            ClientAddress = "192.0.2.1",
            Helo = "helo\r\nS forged\0",
            SmtpUtf8 = true,
            Body = BodyType.EightBitMime,
        };
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
            await Mail.QueueAsync(spool, Mail.Bytes("x"), envelope);

        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        QueueEntry entry = Assert.Single(reopened.List());
        Assert.Equal(envelope.Sender, entry.Envelope.Sender);
        Assert.Equal(envelope.Recipients, entry.Envelope.Recipients);
        Assert.Equal(envelope.Helo, entry.Envelope.Helo);
        Assert.True(entry.Envelope.SmtpUtf8);
        Assert.Equal(0, reopened.Recovery.MovedToCorrupt);
    }

    [Fact]
    public async Task A_multi_megabyte_message_written_in_many_odd_chunks_reads_back_identically()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        byte[] message = Mail.Message(5 * 1024 * 1024 + 17);
        await using SpoolWriter writer = spool.Create(Mail.Envelope());
        for (int offset = 0, chunk = 1; offset < message.Length; chunk = chunk * 3 % 65_521 + 1)
        {
            int n = Math.Min(chunk, message.Length - offset);
            await writer.WriteAsync(message.AsMemory(offset, n));
            offset += n;
        }
        Assert.Equal(message.Length, writer.Length);
        await writer.CommitAsync();

        Assert.Equal(message, Mail.ReadAll(spool, writer.QueueId));
        Assert.Equal(message.Length, spool.Get(writer.QueueId)!.Size);
    }

    [Fact]
    public async Task The_message_stream_is_exactly_the_message_and_seekable()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string id = await Mail.QueueAsync(spool, Mail.Bytes("0123456789"));
        using Stream stream = spool.OpenMessage(id);
        Assert.False(stream.CanWrite);
        Assert.Equal(10, stream.Length);
        stream.Seek(-3, SeekOrigin.End);
        var tail = new byte[10];
        Assert.Equal(3, stream.Read(tail));
        Assert.Equal("789", Encoding.ASCII.GetString(tail, 0, 3));
        Assert.Equal(0, stream.Read(tail));
    }

    [Fact]
    public async Task Nothing_is_listed_until_commit_returns_and_then_it_is()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string? announced = null;
        spool.Committed += id => announced = id;
        await using SpoolWriter writer = spool.Create(Mail.Envelope());
        await writer.WriteAsync(Mail.Bytes("hello"));
        Assert.Empty(spool.List());
        Assert.Empty(_dir.Files("queue"));
        Assert.Single(_dir.Files("tmp"));

        await writer.CommitAsync();
        Assert.Equal(writer.QueueId, Assert.Single(spool.List()).Id);
        Assert.Equal([writer.QueueId], _dir.Files("queue"));
        Assert.Empty(_dir.Files("tmp"));
        Assert.Equal(writer.QueueId, announced);
    }

    [Fact]
    public async Task Abort_and_dispose_without_commit_leave_nothing_behind()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        SpoolWriter aborted = spool.Create(Mail.Envelope());
        await aborted.WriteAsync(Mail.Message(10_000));
        aborted.Abort();
        aborted.Abort(); // safe twice
        await using (SpoolWriter disposed = spool.Create(Mail.Envelope()))
            await disposed.WriteAsync(Mail.Message(10_000));

        Assert.Empty(spool.List());
        Assert.Empty(_dir.Files("tmp"));
        Assert.Empty(_dir.Files("queue"));
        Assert.Equal(0, spool.UsedBytes);
        await Assert.ThrowsAsync<SpoolException>(() => aborted.CommitAsync().AsTask());
    }

    [Fact]
    public async Task Fifty_concurrent_commits_are_all_durable_distinct_and_share_directory_fsyncs()
    {
        var fs = new FaultInjectingFileSystem();
        var ids = new List<string>();
        using (MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs))
        {
            int committedEvents = 0;
            spool.Committed += _ => Interlocked.Increment(ref committedEvents);
            int dirFsyncsBefore = fs.Calls(SpoolStep.FlushDirectory);
            int fileFsyncsBefore = fs.Calls(SpoolStep.FlushFile);
            int renamesBefore = fs.Calls(SpoolStep.Rename);
            // Hold the first directory fsync until every other committer is waiting behind it, as
            // happens on a slow SD card: then exactly one more fsync must cover all of them.
            int held = 0;
            fs.BeforeStep = (step, _) =>
            {
                if (step != SpoolStep.FlushDirectory || Interlocked.Exchange(ref held, 1) == 1)
                    return;
                int inFirstBatch = fs.Calls(SpoolStep.Rename) - renamesBefore;
                Assert.True(SpinWait.SpinUntil(() => spool.Committer.PendingCount == 50 - inFirstBatch, TimeSpan.FromSeconds(20)));
            };
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<string>[] sessions = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await Mail.QueueAsync(spool, Mail.Message(4096 + i, seed: i));
            })).ToArray();
            start.SetResult();
            ids.AddRange(await Task.WhenAll(sessions));

            Assert.Equal(50, ids.Distinct().Count());
            Assert.Equal(50, committedEvents);
            Assert.Equal(50, fs.Calls(SpoolStep.FlushFile) - fileFsyncsBefore);   // every file its own fsync
            int dirFsyncs = fs.Calls(SpoolStep.FlushDirectory) - dirFsyncsBefore;
            Assert.InRange(dirFsyncs, 1, 2);                                         // but directories are shared
        }

        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        Assert.Equal(ids.Order(StringComparer.Ordinal), reopened.List().Select(e => e.Id));
        Assert.Equal(50, reopened.Recovery.Recovered);
        for (int i = 0; i < 50; i++)
            Assert.Equal(Mail.Message(4096 + i, seed: i), Mail.ReadAll(reopened, ids[i]));
    }

    [Fact]
    public async Task The_queue_keeps_the_committed_envelope_even_if_the_session_reuses_its_recipient_list()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        var recipients = new List<string> { "a@example.net" };
        string id = await Mail.QueueAsync(spool, Mail.Bytes("x"), new Envelope { Sender = "s@example.org", Recipients = recipients, ClientAddress = "192.0.2.1" });
        recipients.Clear();   // RSET, next transaction
        recipients.Add("other@example.net");
        Assert.Equal(["a@example.net"], spool.Get(id)!.Envelope.Recipients);
        Assert.Equal(["a@example.net"], spool.Get(id)!.Recipients.Select(r => r.Address));
    }

    [Fact]
    public void A_message_without_recipients_is_refused_before_anything_is_written()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        Assert.Throws<ArgumentException>(() => spool.Create(new Envelope { Sender = "", Recipients = [], ClientAddress = "::1" }));
        Assert.Empty(_dir.Files("tmp"));
    }

    [Fact]
    public async Task List_is_oldest_first()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        var ids = new List<string>();
        for (int i = 0; i < 5; i++)
            ids.Add(await Mail.QueueAsync(spool, Mail.Bytes($"m{i}")));
        Assert.Equal(ids, spool.List().Select(e => e.Id));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Spool_folders_are_owner_only()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        await Mail.QueueAsync(spool, Mail.Bytes("x"));
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(ownerOnly, File.GetUnixFileMode(_dir.Path));
        foreach (string folder in new[] { "tmp", "queue", "hold", "state", "corrupt", "maildrop", "maildrop/tmp" })
            Assert.Equal(ownerOnly, File.GetUnixFileMode(_dir.Sub(folder)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir.Sub("queue"), _dir.Files("queue")[0])));
    }

    [Fact]
    public async Task A_second_process_view_of_an_owned_spool_is_read_only()
    {
        using MessageSpool owner = MessageSpool.Open(_dir.Options());
        string id = await Mail.QueueAsync(owner, Mail.Bytes("x"));
        await using SpoolWriter inFlight = owner.Create(Mail.Envelope());

        // flock is per open file, so a second Open in this process behaves as another process would.
        using MessageSpool viewer = MessageSpool.Open(_dir.Options());
        Assert.True(viewer.IsReadOnly);
        Assert.Equal(id, Assert.Single(viewer.List()).Id);
        Assert.Single(_dir.Files("tmp"));       // no recovery ran: the owner's message in flight survives
        Assert.Equal(SpoolError.IoError, Assert.Throws<SpoolException>(() => viewer.Create(Mail.Envelope())).Error);
        Assert.Throws<SpoolException>(() => viewer.Delete(id));
        Assert.Equal(id, Assert.Single(MessageSpool.ReadQueue(_dir.Path)).Id);
    }
}
