// One self-contained file on purpose: the SMTP tests link it (<Compile Include="..."/>) to check what
// a client is told when each step of the spool's commit path fails.
using EdgeMail.Spool;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool.Tests.Support;

/// <summary>The steps of <see cref="ISpoolFileSystem"/> a test can fail.</summary>
public enum SpoolStep
{
    CreateDirectory,
    Create,
    OpenRead,
    OpenOrCreate,
    /// <summary>Both WriteAsync (message bytes, trailer) and Write (header, side records).</summary>
    Write,
    FlushFile,
    Rename,
    FlushDirectory,
    Delete,
    Exists,
    List,
    FreeSpace,
}

public enum FaultKind
{
    /// <summary>A plain I/O error (EIO): the spool reports SpoolError.IoError (SMTP 451 4.3.0).</summary>
    IoError,
    /// <summary>ENOSPC: the spool reports SpoolError.InsufficientStorage (SMTP 452 4.3.1).</summary>
    NoSpace,
}

/// <summary>
/// Wraps the real file system (real files, real fsync) and fails a chosen step on its Nth call
/// counted from when the fault is armed; counts every call so tests can compare, say, directory
/// fsyncs with messages committed.
/// </summary>
public sealed class FaultInjectingFileSystem : ISpoolFileSystem
{
    private const int EIO = 5;
    private const int ENOSPC = 28;

    private readonly ISpoolFileSystem _inner;
    private readonly object _gate = new();
    private readonly Dictionary<SpoolStep, int> _calls = new();
    private readonly List<Fault> _faults = new();

    private sealed class Fault
    {
        public required SpoolStep Step;
        public required int CallsLeft;       // fail when this reaches 1
        public required FaultKind Kind;
        public required bool Repeat;
        public Func<string, bool>? PathFilter;
    }

    public FaultInjectingFileSystem(ISpoolFileSystem? inner = null) => _inner = inner ?? OsSpoolFileSystem.Instance;

    private long? _freeBytes;

    /// <summary>When set, a simulated file system size: reported as free space instead of the real value,
    /// reduced by every byte written and given back when a file is deleted.</summary>
    public long? FreeBytes
    {
        get { lock (_gate) return _freeBytes; }
        set { lock (_gate) _freeBytes = value; }
    }

    private void Consume(long bytes)
    {
        lock (_gate)
        {
            if (_freeBytes is not null)
                _freeBytes -= bytes;
        }
    }

    /// <summary>Fails the <paramref name="nthCall"/>-th call of <paramref name="step"/> from now (1 = the next one),
    /// optionally only counting calls whose path matches; with <paramref name="repeat"/> every later call fails too.</summary>
    public void FailOn(SpoolStep step, int nthCall = 1, FaultKind kind = FaultKind.IoError, bool repeat = false, Func<string, bool>? pathFilter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nthCall, 1);
        lock (_gate)
            _faults.Add(new Fault { Step = step, CallsLeft = nthCall, Kind = kind, Repeat = repeat, PathFilter = pathFilter });
    }

    public void ClearFaults()
    {
        lock (_gate)
            _faults.Clear();
    }

    public int Calls(SpoolStep step)
    {
        lock (_gate)
            return _calls.TryGetValue(step, out int n) ? n : 0;
    }

    /// <summary>Called before every step (outside any lock): lets a test hold a step until the
    /// situation it wants has arisen, e.g. several committers waiting for one directory fsync.</summary>
    public Action<SpoolStep, string>? BeforeStep { get; set; }

    /// <summary>How many injected faults have fired.</summary>
    public int FaultsFired { get; private set; }

    private void Step(SpoolStep step, string path)
    {
        BeforeStep?.Invoke(step, path);
        FaultKind? fire = null;
        lock (_gate)
        {
            _calls[step] = (_calls.TryGetValue(step, out int n) ? n : 0) + 1;
            foreach (Fault f in _faults)
            {
                if (f.Step != step || (f.PathFilter is not null && !f.PathFilter(path)))
                    continue;
                if (f.CallsLeft > 1)
                {
                    f.CallsLeft--;
                    continue;
                }
                fire = f.Kind;
                if (!f.Repeat)
                    _faults.Remove(f);
                FaultsFired++;
                break;
            }
        }
        if (fire is FaultKind kind)
        {
            throw kind == FaultKind.NoSpace
                ? new IOException($"injected: No space left on device : '{path}'", ENOSPC)
                : new IOException($"injected: Input/output error : '{path}'", EIO);
        }
    }

    private static string PathOf(SafeFileHandle file)
    {
        // Linux: the path behind a descriptor, so a fault can target, say, only side records.
        try { return file.IsInvalid || file.IsClosed ? "" : new FileInfo($"/proc/self/fd/{file.DangerousGetHandle()}").LinkTarget ?? ""; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    public void CreateDirectory(string path) { Step(SpoolStep.CreateDirectory, path); _inner.CreateDirectory(path); }
    public SafeFileHandle CreateNew(string path) { Step(SpoolStep.Create, path); return _inner.CreateNew(path); }
    public SafeFileHandle OpenRead(string path) { Step(SpoolStep.OpenRead, path); return _inner.OpenRead(path); }
    public SafeFileHandle OpenOrCreate(string path) { Step(SpoolStep.OpenOrCreate, path); return _inner.OpenOrCreate(path); }

    public ValueTask WriteAsync(SafeFileHandle file, ReadOnlyMemory<byte> data, long fileOffset, CancellationToken cancellationToken)
    {
        Step(SpoolStep.Write, PathOf(file));
        Consume(data.Length);
        return _inner.WriteAsync(file, data, fileOffset, cancellationToken);
    }

    public void Write(SafeFileHandle file, ReadOnlySpan<byte> data, long fileOffset)
    {
        Step(SpoolStep.Write, PathOf(file));
        Consume(data.Length);
        _inner.Write(file, data, fileOffset);
    }

    public void FlushFile(SafeFileHandle file) { Step(SpoolStep.FlushFile, PathOf(file)); _inner.FlushFile(file); }
    public void Rename(string sourcePath, string destinationPath) { Step(SpoolStep.Rename, destinationPath); _inner.Rename(sourcePath, destinationPath); }
    public void FlushDirectory(string path) { Step(SpoolStep.FlushDirectory, path); _inner.FlushDirectory(path); }
    public void Delete(string path)
    {
        Step(SpoolStep.Delete, path);
        long size = FreeBytes is not null && File.Exists(path) ? new FileInfo(path).Length : 0;
        _inner.Delete(path);
        Consume(-size);
    }
    public bool Exists(string path) { Step(SpoolStep.Exists, path); return _inner.Exists(path); }
    public IReadOnlyList<string> ListFiles(string directory) { Step(SpoolStep.List, directory); return _inner.ListFiles(directory); }

    public long GetFreeBytes(string path)
    {
        Step(SpoolStep.FreeSpace, path);
        return FreeBytes ?? _inner.GetFreeBytes(path);
    }
}
