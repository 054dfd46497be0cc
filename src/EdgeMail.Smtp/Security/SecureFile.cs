using System.Runtime.InteropServices;

namespace EdgeMail.Smtp.Security;

/// <summary>
/// Writes secret files the one safe way: a new temp file created 0600 in the same directory,
/// written, fsync'd, renamed over the target, then the directory fsync'd so the rename itself
/// survives a power cut. A reader sees the old file or the new one, never half of either.
/// </summary>
internal static partial class SecureFile
{
    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static void WriteAtomic(string path, ReadOnlySpan<byte> content)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        string tmp = Path.Combine(dir, "." + Path.GetFileName(full) + ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile; // umask can only narrow it
            using (var fs = new FileStream(tmp, options))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        FsyncDirectory(dir);
    }

    /// <summary>Creates the directory 0700 if missing (parents with default modes).</summary>
    public static void EnsurePrivateDirectory(string dir)
    {
        if (Directory.Exists(dir))
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, OwnerOnlyDirectory);
            return;
        }
        string? parent = Path.GetDirectoryName(Path.GetFullPath(dir));
        if (parent is not null) Directory.CreateDirectory(parent);
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, OwnerOnlyDirectory);
    }

    public static void FsyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        // .NET cannot open a directory as a FileStream, so fsync(2) it directly.
        int fd = Open(dir, O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw new IOException($"open({dir}) for fsync failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync({dir}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private const int O_RDONLY = 0;
    private static int O_CLOEXEC => OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenNative(byte[] path, int flags);

    private static int Open(string path, int flags)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(path) + 1];
        System.Text.Encoding.UTF8.GetBytes(path, bytes);
        return OpenNative(bytes, flags);
    }

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
