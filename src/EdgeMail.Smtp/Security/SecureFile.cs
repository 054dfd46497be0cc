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

    /// <summary>
    /// Replacing an existing file keeps its owner and group (when we may: as root) and its group-read
    /// bit, so `sudo edgemail user add` on a root:edgemail 0640 or edgemail-owned 0600 file leaves a
    /// file the service can still read. A new file is 0600, owned by whoever runs the command.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        string tmp = Path.Combine(dir, "." + Path.GetFileName(full) + ".tmp-" + Guid.NewGuid().ToString("N"));
        (uint Uid, uint Gid)? owner = null;
        UnixFileMode mode = OwnerOnlyFile;
        if (!OperatingSystem.IsWindows() && File.Exists(full))
        {
            mode |= File.GetUnixFileMode(full) & UnixFileMode.GroupRead;
            if (OperatingSystem.IsLinux()) owner = Owner(full);
        }
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
                if (owner is { } o && Geteuid() == 0 && Chown(Z(tmp), o.Uid, o.Gid) != 0)
                    throw new IOException($"chown({tmp}) failed: errno {Marshal.GetLastPInvokeError()}");
                if (mode != OwnerOnlyFile && !OperatingSystem.IsWindows()) File.SetUnixFileMode(fs.SafeFileHandle, mode);
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

    private static int Open(string path, int flags) => OpenNative(Z(path), flags);

    private static byte[] Z(string path)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(path) + 1];
        System.Text.Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>
    /// Owner and group via statx(2): unlike struct stat its layout is the same on every Linux
    /// architecture (stx_uid at offset 20, stx_gid at 24), so one declaration serves x64 and arm64.
    /// </summary>
    internal static (uint Uid, uint Gid)? Owner(string path)
    {
        byte[] buffer = new byte[256];
        const int AT_FDCWD = -100, STATX_UID = 0x8, STATX_GID = 0x10;
        if (Statx(AT_FDCWD, Z(path), 0, STATX_UID | STATX_GID, buffer) != 0) return null;
        return (BitConverter.ToUInt32(buffer, 20), BitConverter.ToUInt32(buffer, 24));
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, byte[] path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(byte[] path, uint uid, uint gid);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint Geteuid();

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
