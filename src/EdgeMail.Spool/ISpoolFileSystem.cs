using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// Every file-system step the spool takes on its write, commit and recovery paths, behind one seam
/// so tests can fail any single step (a fault-injecting wrapper) and check that nothing
/// acknowledged-looking is left behind. Paths are always built by the spool from validated queue IDs.
/// Failures are thrown as <see cref="IOException"/> (HResult = errno for ENOSPC/EDQUOT).
/// </summary>
public interface ISpoolFileSystem
{
    /// <summary>Creates the folder (owner-only, 0700) if missing.</summary>
    void CreateDirectory(string path);

    /// <summary>Creates a new file for writing, failing if it exists (O_CREAT|O_EXCL), mode 0600.</summary>
    SafeFileHandle CreateNew(string path);

    /// <summary>Opens an existing file for reading.</summary>
    SafeFileHandle OpenRead(string path);

    /// <summary>Opens (creating when missing, mode 0600) a file for appending side records.</summary>
    SafeFileHandle OpenOrCreate(string path);

    ValueTask WriteAsync(SafeFileHandle file, ReadOnlyMemory<byte> data, long fileOffset, CancellationToken cancellationToken);

    void Write(SafeFileHandle file, ReadOnlySpan<byte> data, long fileOffset);

    /// <summary>fsync(2) of a file: data and metadata (its size changed) on stable storage.</summary>
    void FlushFile(SafeFileHandle file);

    /// <summary>rename(2); replaces nothing the spool cares about (destination names are fresh IDs).</summary>
    void Rename(string sourcePath, string destinationPath);

    /// <summary>fsync(2) of a directory: makes created, renamed and removed names in it durable.</summary>
    void FlushDirectory(string path);

    /// <summary>Removes a file; a missing file is not an error.</summary>
    void Delete(string path);

    bool Exists(string path);

    /// <summary>Names (not paths) of the regular files directly in <paramref name="directory"/>.</summary>
    IReadOnlyList<string> ListFiles(string directory);

    /// <summary>Bytes available to this (unprivileged) process on the file system holding <paramref name="path"/>.</summary>
    long GetFreeBytes(string path);
}

/// <summary>The real file system (Linux).</summary>
public sealed class OsSpoolFileSystem : ISpoolFileSystem
{
    public static readonly OsSpoolFileSystem Instance = new();

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
            System.IO.Directory.CreateDirectory(path);
        else
            System.IO.Directory.CreateDirectory(path, OwnerOnlyDirectory);
    }

    public SafeFileHandle CreateNew(string path) => OpenWithMode(path, FileMode.CreateNew);

    public SafeFileHandle OpenRead(string path)
        => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    public SafeFileHandle OpenOrCreate(string path) => OpenWithMode(path, FileMode.OpenOrCreate);

    public ValueTask WriteAsync(SafeFileHandle file, ReadOnlyMemory<byte> data, long fileOffset, CancellationToken cancellationToken)
        => RandomAccess.WriteAsync(file, data, fileOffset, cancellationToken);

    public void Write(SafeFileHandle file, ReadOnlySpan<byte> data, long fileOffset)
        => RandomAccess.Write(file, data, fileOffset);

    // RandomAccess.FlushToDisk is fsync(2) on Linux (checked with strace), not fdatasync: the file's
    // size changes with every message, and that metadata must be durable too.
    public void FlushFile(SafeFileHandle file) => RandomAccess.FlushToDisk(file);

    public void Rename(string sourcePath, string destinationPath) => File.Move(sourcePath, destinationPath, overwrite: false);

    public void FlushDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
            return; // NTFS journals renames; there is no directory fsync.
        Interop.Libc.FSyncDirectory(path);
    }

    public void Delete(string path) => File.Delete(path);

    public bool Exists(string path) => File.Exists(path);

    public IReadOnlyList<string> ListFiles(string directory)
    {
        var names = new List<string>();
        foreach (string path in System.IO.Directory.EnumerateFiles(directory))
            names.Add(Path.GetFileName(path));
        return names;
    }

    // The spool asks on every write (see MessageSpool.TryReserve) and always for the same folder: the DriveInfo is
    // kept (its constructor normalises the path into new strings each time); AvailableFreeSpace still calls statvfs
    // on every read, so the answer is as fresh as before.
    private sealed record FreeSpaceProbe(string Path, DriveInfo Drive);
    private volatile FreeSpaceProbe? _probe;

    public long GetFreeBytes(string path)
    {
        FreeSpaceProbe? probe = _probe;
        if (probe is null || !string.Equals(probe.Path, path, StringComparison.Ordinal))
            _probe = probe = new FreeSpaceProbe(path, new DriveInfo(path));
        return probe.Drive.AvailableFreeSpace;
    }

    private static SafeFileHandle OpenWithMode(string path, FileMode mode)
    {
        var handle = File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        if (mode != FileMode.Open && !OperatingSystem.IsWindows())
        {
            // The folders are already owner-only; this keeps a copied-out file private too.
            try { File.SetUnixFileMode(handle, OwnerOnlyFile); }
            catch { handle.Dispose(); throw; }
        }
        return handle;
    }
}
