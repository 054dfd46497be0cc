using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>Issue 2, capacity: a maximum spool size and a minimum free space; a message that would not
/// fit fails (452 4.3.1), the spool stays consistent and smaller messages still go in.</summary>
public sealed class CapacityTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task WriteInChunksAsync(SpoolWriter writer, int size)
    {
        byte[] chunk = Mail.Message(4096);
        for (int written = 0; written < size; written += chunk.Length)
            await writer.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - written)));
    }

    [Fact]
    public async Task A_message_over_the_spool_limit_fails_while_streaming_and_a_smaller_one_still_fits()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options(maxSpoolBytes: 50_000));
        string small = await Mail.QueueAsync(spool, Mail.Message(10_000));
        long usedBefore = spool.UsedBytes;

        await using SpoolWriter big = spool.Create(Mail.Envelope());
        var failure = await Assert.ThrowsAsync<SpoolException>(() => WriteInChunksAsync(big, 60_000));
        Assert.Equal(SpoolError.InsufficientStorage, failure.Error);
        Assert.InRange(big.Length, 30_000, 40_000);         // stopped at the limit, not after the whole message
        Assert.Empty(_dir.Files("tmp"));
        Assert.Equal(usedBefore, spool.UsedBytes);

        string second = await Mail.QueueAsync(spool, Mail.Message(20_000));
        Assert.Equal(new[] { small, second }, spool.List().Select(e => e.Id));
    }

    [Fact]
    public async Task Has_room_for_follows_the_limit_as_messages_come_and_go()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options(maxSpoolBytes: 50_000));
        Assert.True(spool.HasRoomFor(49_000));
        Assert.False(spool.HasRoomFor(60_000));
        Assert.False(spool.HasRoomFor(-1));

        string id = await Mail.QueueAsync(spool, Mail.Message(40_000));
        Assert.False(spool.HasRoomFor(20_000));
        Assert.True(spool.HasRoomFor(5_000));

        spool.Complete(id);
        Assert.True(spool.HasRoomFor(49_000));
        Assert.Equal(0, spool.UsedBytes);
    }

    [Fact]
    public async Task The_minimum_free_space_is_kept_and_smaller_messages_still_fit()
    {
        var fs = new FaultInjectingFileSystem { FreeBytes = 1_000_000 };
        using MessageSpool spool = MessageSpool.Open(_dir.Options(minFreeBytes: 900_000), null, fs);
        Assert.False(spool.HasRoomFor(200_000));
        Assert.True(spool.HasRoomFor(50_000));

        await using SpoolWriter big = spool.Create(Mail.Envelope());
        var failure = await Assert.ThrowsAsync<SpoolException>(() => WriteInChunksAsync(big, 200_000));
        Assert.Equal(SpoolError.InsufficientStorage, failure.Error);
        Assert.Empty(_dir.Files("tmp"));

        string small = await Mail.QueueAsync(spool, Mail.Message(50_000));
        Assert.Equal(small, Assert.Single(spool.List()).Id);
    }

    [Fact]
    public void No_message_is_started_when_free_space_is_already_below_the_minimum()
    {
        var fs = new FaultInjectingFileSystem { FreeBytes = 10_000 };
        using MessageSpool spool = MessageSpool.Open(_dir.Options(minFreeBytes: 64_000), null, fs);
        Assert.Equal(SpoolError.InsufficientStorage, Assert.Throws<SpoolException>(() => spool.Create(Mail.Envelope())).Error);
        Assert.Empty(_dir.Files("tmp"));
    }

    [Fact]
    public async Task Concurrent_writers_racing_for_the_last_space_never_overfill_the_spool()
    {
        const long limit = 100_000;
        using MessageSpool spool = MessageSpool.Open(_dir.Options(maxSpoolBytes: limit));
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] sessions = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await using SpoolWriter writer = spool.Create(Mail.Envelope());
                await WriteInChunksAsync(writer, 10_000);
                await writer.CommitAsync();
                return true;
            }
            catch (SpoolException e) when (e.Error == SpoolError.InsufficientStorage)
            {
                return false;
            }
        })).ToArray();
        start.SetResult();
        bool[] outcomes = await Task.WhenAll(sessions);

        // (Which ones win depends on scheduling; that the limit holds and the count is exact does not.)
        Assert.Contains(false, outcomes);
        long onDisk = Directory.GetFiles(_dir.Sub("queue")).Sum(f => new FileInfo(f).Length);
        Assert.InRange(onDisk, 0, limit);
        Assert.Equal(onDisk, spool.UsedBytes);
        Assert.Equal(outcomes.Count(o => o), spool.List().Count);
        Assert.Empty(_dir.Files("tmp"));
    }

    /// <summary>The error the first write of a new message meets over <paramref name="fs"/>. <paramref name="armFault"/>
    /// runs after Create: the header Create writes is not the write under test.</summary>
    private async Task<SpoolError> FirstWriteErrorAsync(ISpoolFileSystem fs, Action? armFault = null)
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options(), null, fs);
        await using SpoolWriter writer = spool.Create(Mail.Envelope());
        armFault?.Invoke();
        return (await Assert.ThrowsAsync<SpoolException>(() => writer.WriteAsync(Mail.Message(100)).AsTask())).Error;
    }

    [Fact]
    public async Task Enospc_from_the_file_system_is_insufficient_storage_not_an_io_error()
    {
        var fs = new FaultInjectingFileSystem();
        Assert.Equal(SpoolError.InsufficientStorage, await FirstWriteErrorAsync(fs, () => fs.FailOn(SpoolStep.Write, kind: FaultKind.NoSpace)));
    }

    [Fact]
    public async Task The_real_enospc_of_a_full_device_is_insufficient_storage()
    {
        // /dev/full answers every write with ENOSPC: the BCL's own exception must classify the same
        // way as the injected one.
        Assert.Equal(SpoolError.InsufficientStorage, await FirstWriteErrorAsync(new DevFullFileSystem()));
    }

    private sealed class DevFullFileSystem : ISpoolFileSystem
    {
        private readonly ISpoolFileSystem _os = OsSpoolFileSystem.Instance;
        public void CreateDirectory(string path) => _os.CreateDirectory(path);
        public Microsoft.Win32.SafeHandles.SafeFileHandle CreateNew(string path) => _os.CreateNew(path);
        public Microsoft.Win32.SafeHandles.SafeFileHandle OpenRead(string path) => _os.OpenRead(path);
        public Microsoft.Win32.SafeHandles.SafeFileHandle OpenOrCreate(string path) => _os.OpenOrCreate(path);
        public async ValueTask WriteAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlyMemory<byte> data, long fileOffset, CancellationToken cancellationToken)
        {
            using var full = File.OpenHandle("/dev/full", FileMode.Open, FileAccess.Write);
            await RandomAccess.WriteAsync(full, data, 0, cancellationToken);
        }
        public void Write(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlySpan<byte> data, long fileOffset) => _os.Write(file, data, fileOffset);
        public void FlushFile(Microsoft.Win32.SafeHandles.SafeFileHandle file) => _os.FlushFile(file);
        public void Rename(string sourcePath, string destinationPath) => _os.Rename(sourcePath, destinationPath);
        public void FlushDirectory(string path) => _os.FlushDirectory(path);
        public void Delete(string path) => _os.Delete(path);
        public bool Exists(string path) => _os.Exists(path);
        public IReadOnlyList<string> ListFiles(string directory) => _os.ListFiles(directory);
        public long GetFreeBytes(string path) => _os.GetFreeBytes(path);
    }
}
