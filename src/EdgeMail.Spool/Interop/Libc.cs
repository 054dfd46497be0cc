using System.Runtime.InteropServices;

namespace EdgeMail.Spool.Interop;

/// <summary>
/// The one thing the BCL cannot do for us: fsync a directory. .NET refuses to open a directory as a
/// file handle, yet POSIX durability of a rename (or a create) needs fsync on the directory that
/// holds the new name. Source-generated P/Invoke keeps this NativeAOT- and trim-safe.
/// </summary>
internal static partial class Libc
{
    // Same value on x86-64 and aarch64 Linux (O_DIRECTORY is not: it differs between the two, so
    // we do without it; opening a directory O_RDONLY is enough for fsync).
    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    internal static void FSyncDirectory(string path)
    {
        int fd = Open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            throw ErrnoException(Marshal.GetLastPInvokeError(), "open", path);
        try
        {
            if (FSync(fd) != 0)
                throw ErrnoException(Marshal.GetLastPInvokeError(), "fsync", path);
        }
        finally
        {
            Close(fd);
        }
    }

    // HResult carries the raw errno, as the BCL does for its own Unix IO errors, so one classifier
    // (SpoolErrors) handles both.
    private static IOException ErrnoException(int errno, string call, string path)
        => new($"{call}({path}): {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}
