using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>
/// STYLE 6: any failure on the commit path leaves nothing in the ready queue, so the client is told
/// 451 (IoError) or 452 (InsufficientStorage) and nothing acknowledged-looking remains.
/// Steps in order: create tmp/ID, write header, write body, write trailer, fsync file, rename, fsync queue/.
/// </summary>
public sealed class CommitFaultTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<SpoolStep, int, FaultKind, SpoolError> EachStepOfTheCommitPath => new()
    {
        { SpoolStep.Create, 1, FaultKind.IoError, SpoolError.IoError },
        { SpoolStep.Create, 1, FaultKind.NoSpace, SpoolError.InsufficientStorage },
        { SpoolStep.Write, 1, FaultKind.IoError, SpoolError.IoError },               // header
        { SpoolStep.Write, 2, FaultKind.IoError, SpoolError.IoError },               // first body chunk
        { SpoolStep.Write, 3, FaultKind.NoSpace, SpoolError.InsufficientStorage },   // second body chunk
        { SpoolStep.Write, 4, FaultKind.IoError, SpoolError.IoError },               // trailer
        { SpoolStep.Write, 4, FaultKind.NoSpace, SpoolError.InsufficientStorage },
        { SpoolStep.FlushFile, 1, FaultKind.IoError, SpoolError.IoError },
        { SpoolStep.FlushFile, 1, FaultKind.NoSpace, SpoolError.InsufficientStorage },
        { SpoolStep.Rename, 1, FaultKind.IoError, SpoolError.IoError },
        { SpoolStep.FlushDirectory, 1, FaultKind.IoError, SpoolError.IoError },
    };

    [Theory]
    [MemberData(nameof(EachStepOfTheCommitPath))]
    public async Task A_failing_step_is_reported_and_leaves_nothing_queued(SpoolStep step, int nthCall, FaultKind kind, SpoolError expected)
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        var committed = new List<string>();
        spool.Committed += committed.Add;

        fs.FailOn(step, nthCall, kind);
        SpoolException failure = await Assert.ThrowsAsync<SpoolException>(async () =>
        {
            await using SpoolWriter writer = spool.Create(Mail.Envelope());
            await writer.WriteAsync(Mail.Message(1000, 1));
            await writer.WriteAsync(Mail.Message(1000, 2));
            await writer.CommitAsync();
        });

        Assert.Equal(1, fs.FaultsFired);
        Assert.Equal(expected, failure.Error);
        Assert.Empty(_dir.Files("queue"));
        Assert.Empty(_dir.Files("tmp"));
        Assert.Empty(spool.List());
        Assert.Empty(committed);
        Assert.Equal(0, spool.UsedBytes);

        // The spool stays usable: the next message goes in, and survives a restart alone.
        string id = await Mail.QueueAsync(spool, Mail.Bytes("next"));
        spool.Dispose();
        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        Assert.Equal(id, Assert.Single(reopened.List()).Id);
        Assert.Equal(0, reopened.Recovery.MovedToCorrupt);
    }

    [Fact]
    public async Task After_a_failed_write_the_writer_keeps_refusing_and_commit_reports_the_same_kind()
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        await using SpoolWriter writer = spool.Create(Mail.Envelope());
        fs.FailOn(SpoolStep.Write, kind: FaultKind.NoSpace);
        await Assert.ThrowsAsync<SpoolException>(() => writer.WriteAsync(Mail.Bytes("a")).AsTask());

        // The SMTP session reads on to the end of DATA, then commits or aborts: both are safe.
        var again = await Assert.ThrowsAsync<SpoolException>(() => writer.WriteAsync(Mail.Bytes("b")).AsTask());
        var commit = await Assert.ThrowsAsync<SpoolException>(() => writer.CommitAsync().AsTask());
        Assert.Equal(SpoolError.InsufficientStorage, again.Error);
        Assert.Equal(SpoolError.InsufficientStorage, commit.Error);
        Assert.Empty(_dir.Files("tmp"));   // freed at once: space is what was missing
    }

    [Fact]
    public async Task A_failed_directory_fsync_fails_every_commit_it_covered_and_removes_their_files()
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        fs.FailOn(SpoolStep.FlushDirectory);

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string>[] sessions = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await Mail.QueueAsync(spool, Mail.Message(2000, i));
        })).ToArray();
        start.SetResult();
        try { await Task.WhenAll(sessions); } catch (SpoolException) { }

        string[] succeeded = sessions.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).Order(StringComparer.Ordinal).ToArray();
        Assert.All(sessions.Where(t => t.IsFaulted), t => Assert.Equal(SpoolError.IoError, ((SpoolException)t.Exception!.InnerException!).Error));
        Assert.True(succeeded.Length < 20);
        Assert.Equal(succeeded, _dir.Files("queue"));          // only what was acknowledged is queued
        Assert.Equal(succeeded, spool.List().Select(e => e.Id));
        Assert.Empty(_dir.Files("tmp"));
    }

    [Fact]
    public async Task A_committed_handler_that_throws_does_not_undo_the_commit()
    {
        var log = new ListLogger();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), log);
        spool.Committed += _ => throw new InvalidOperationException("subscriber bug");
        string id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
        Assert.Equal(id, Assert.Single(spool.List()).Id);
        Assert.Contains(log.Lines, l => l.Contains("Committed handler failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Side_record_failures_are_reported_and_do_not_count_as_an_attempt()
    {
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        string id = await Mail.QueueAsync(spool, Mail.Bytes("x"));
        fs.FailOn(SpoolStep.FlushFile);
        var attempt = new AttemptRecord { When = DateTimeOffset.UtcNow, Recipients = [], Error = "451 busy" };
        Assert.Equal(SpoolError.IoError, Assert.Throws<SpoolException>(() => spool.RecordAttempt(id, attempt)).Error);
        Assert.Equal(0, spool.Get(id)!.Attempts);

        spool.RecordAttempt(id, attempt);
        Assert.Equal(1, spool.Get(id)!.Attempts);
    }
}
