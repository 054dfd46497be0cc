using System.Diagnostics;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// A fact that needs to mount a tmpfs. Mounting takes root with CAP_SYS_ADMIN; without them the runner
/// reports the test as skipped, with the reason, instead of passing a test that checked nothing
/// (xunit 2 has no dynamic skip, so the decision is made here, when tests are discovered).
/// </summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Tmpfs.WhyUnavailable() is { } why) Skip = why;
    }
}

/// <summary>A <see cref="TmpfsFactAttribute"/> that also needs chattr +i (root with CAP_LINUX_IMMUTABLE).</summary>
public sealed class ImmutableTmpfsFactAttribute : FactAttribute
{
    public ImmutableTmpfsFactAttribute()
    {
        if (Tmpfs.WhyUnavailable(immutable: true) is { } why) Skip = why;
    }
}

/// <summary>
/// A size-limited tmpfs mounted for one test: a file system that really fills up (ENOSPC, statvfs
/// reporting what is left) without touching the machine's disks. Dispose unmounts it lazily, so a
/// process still holding a file there cannot keep it mounted.
/// </summary>
public sealed class Tmpfs : IDisposable
{
    const string MountProgram = "/bin/mount";
    const string UmountProgram = "/bin/umount";
    const string ChattrProgram = "/usr/bin/chattr";
    const int CapSysAdmin = 21; // linux/capability.h
    const int CapLinuxImmutable = 9;

    public string Path { get; }
    bool _mounted;

    Tmpfs(string path) => Path = path;

    /// <summary>Null when this process can mount a tmpfs and (with <paramref name="immutable"/>) set the
    /// immutable attribute in it; otherwise why not, for the skip reason.</summary>
    public static string? WhyUnavailable(bool immutable = false)
    {
        if (!OperatingSystem.IsLinux()) return "mounting a size-limited tmpfs needs Linux";
        if (!File.Exists(MountProgram) || !File.Exists(UmountProgram))
            return $"mounting a size-limited tmpfs needs {MountProgram} and {UmountProgram}";
        var effective = EffectiveCapabilities();
        if (effective is null) return "cannot read CapEff from /proc/self/status to see whether tmpfs can be mounted";
        if ((effective.Value & (1UL << CapSysAdmin)) == 0 || Environment.UserName != "root")
            return $"mounting a size-limited tmpfs needs root with CAP_SYS_ADMIN; running as {Environment.UserName} " +
                   $"with effective capabilities 0x{effective.Value:x}";
        if (immutable && !File.Exists(ChattrProgram))
            return $"setting the immutable attribute needs {ChattrProgram} (e2fsprogs)";
        if (immutable && (effective.Value & (1UL << CapLinuxImmutable)) == 0)
            return $"setting the immutable attribute needs CAP_LINUX_IMMUTABLE; effective capabilities 0x{effective.Value:x}";
        return null;
    }

    static ulong? EffectiveCapabilities()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is null ? null : Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
        }
        catch (IOException) { return null; }
    }

    public static Tmpfs Mount(string directory, long bytes)
    {
        Directory.CreateDirectory(directory);
        var tmpfs = new Tmpfs(directory);
        var (code, text) = Run(MountProgram, "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", directory);
        Assert.True(code == 0, $"mount -t tmpfs -o size={bytes} tmpfs {directory} failed (exit {code}): {text}");
        tmpfs._mounted = true;
        return tmpfs;
    }

    /// <summary>
    /// Sets or clears the immutable attribute (chattr +i) on a directory: nothing can be created in it,
    /// renamed into it or removed from it, not even by root. This is how a test makes one step of the
    /// spool's write path fail on the real binary.
    /// </summary>
    public static void Immutable(string directory, bool on)
    {
        var (code, text) = Run(ChattrProgram, on ? "+i" : "-i", directory);
        Assert.True(code == 0, $"chattr {(on ? "+i" : "-i")} {directory} failed (exit {code}): {text}");
    }

    /// <summary>What statvfs says an unprivileged writer may still use.</summary>
    public long AvailableBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>A file of real (non-sparse) bytes that occupies space until it is deleted.</summary>
    public string Ballast(string name, int bytes)
    {
        var path = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(path, Enumerable.Repeat((byte)'B', bytes).ToArray());
        return path;
    }

    public void Dispose()
    {
        if (!_mounted) return;
        _mounted = false;
        // -l: detach now even if a killed server's file is still open somewhere.
        Run(UmountProgram, "-l", Path);
    }

    static (int Code, string Text) Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            process.WaitForExit();
            return (-1, $"{program} did not finish within 30 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
