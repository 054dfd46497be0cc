using System.Runtime.CompilerServices;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// firmware-config/edgemail.service confines the daemon with a system call filter. A filter that misses a call the
/// daemon needs breaks it on the Pi only (EPERM where the code expects success), so the filter is checked here against
/// what the native binary really calls: `serve` under strace through every kind of work it does, with the kernel
/// refusing writable-and-executable memory as MemoryDenyWriteExecute=yes will on the device.
/// </summary>
public sealed class ServiceUnitTests(ITestOutputHelper output)
{
    static readonly string Unit = Path.GetFullPath(Path.Combine(SourceDir(), "..", "..", "firmware-config", "edgemail.service"));
    static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    /// <summary>What systemd does for MemoryDenyWriteExecute= and NoNewPrivileges=, done by hand before exec: the kernel's
    /// PR_SET_MDWE (Linux 6.3+; refuses any mapping that is, or later becomes, both writable and executable) and
    /// PR_SET_NO_NEW_PRIVS. Both are inherited by children and kept across execve.</summary>
    const string Confine = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        for option, name in ((65, "PR_SET_MDWE"), (38, "PR_SET_NO_NEW_PRIVS")):
            if libc.prctl(option, 1, 0, 0, 0) != 0:
                sys.exit(f"{name}: {os.strerror(ctypes.get_errno())}")
        os.execv(sys.argv[1], sys.argv[1:])
        """;

    [Fact]
    public async Task Every_system_call_the_daemon_makes_is_allowed_by_the_units_SystemCallFilter_and_it_runs_with_MemoryDenyWriteExecute()
    {
        Assert.Contains("MemoryDenyWriteExecute=yes", File.ReadAllLines(Unit));
        Assert.Contains("NoNewPrivileges=yes", File.ReadAllLines(Unit));
        string filter = Assert.Single(File.ReadAllLines(Unit), l => l.StartsWith("SystemCallFilter=", StringComparison.Ordinal))["SystemCallFilter=".Length..];
        HashSet<string> allowed = await ExpandAsync(filter.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        using var dir = new TempDirectory("unit-syscalls");
        var binary = EdgeMailBinary.X64;
        string trace = dir.File("strace.txt");
        using (var upstream = await UpstreamPy.StartAsync(dir.File("upstream")))
        {
            await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output,
                extraArguments: ["--relay", upstream.Url],
                launcher: ["/usr/bin/python3", "-c", Confine, "/usr/bin/strace", "-f", "-qq", "-c", "-o", trace]);
            Assert.Contains("NoNewPrivs:\t1", File.ReadAllText($"/proc/{server.DaemonProcessId}/status"));

            // A plain session, a STARTTLS session (OpenSSL, the generated certificate), a maildrop import (inotify),
            // `status` and `queue flush` over the daemon's socket, and the relay delivering all of it upstream.
            foreach (string[] tls in (string[][])[[], ["--tls"]])
            {
                var swaks = await Swaks.RunAsync(server, ["--from", "cam@lan.test", "--to", "ops@example.test", .. tls]);
                Assert.True(swaks.ExitCode == 0, swaks.ToString());
            }
            var drop = await Tool.RunAsync(binary.StartInfo(["sendmail", "--spool", server.SpoolDirectory, "ops@example.test"], dir.Path),
                stdin: "Subject: from cron\n\nhello\n");
            Assert.True(drop.ExitCode == 0, drop.ToString());
            await server.WaitForLogAsync(3, "status=sent");
            foreach (string[] verb in (string[][])[["status"], ["queue", "flush"]])
            {
                var run = await EdgeMailCli.RunAsync(binary, [.. verb, "--spool", server.SpoolDirectory]);
                Assert.True(run.ExitCode == 0, run.ToString());
            }
            Assert.Equal(0, await server.StopAsync());   // strace writes its table when the daemon has exited
        }

        // strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall", a dashed line, a total line.
        var used = File.ReadAllLines(trace)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 5 && double.TryParse(f[0], System.Globalization.CultureInfo.InvariantCulture, out _) && f[^1] != "total")
            .Select(f => f[^1])
            .ToHashSet();
        Assert.True(used.Count > 30, File.ReadAllText(trace));
        Assert.True(used.IsSubsetOf(allowed), "outside the filter: " + string.Join(' ', used.Except(allowed).Order()));
    }

    /// <summary>The system calls a SystemCallFilter= list allows: systemd's own expansion of each @group, nested.</summary>
    static async Task<HashSet<string>> ExpandAsync(IEnumerable<string> entries)
    {
        var calls = new HashSet<string>(StringComparer.Ordinal);
        var groups = new Queue<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string e in entries)
        {
            if (e.StartsWith('@')) groups.Enqueue(e); else calls.Add(e);
        }
        while (groups.TryDequeue(out string? group))
        {
            if (!seen.Add(group)) continue;
            var listing = await Tool.RunAsync("/usr/bin/systemd-analyze", ["syscall-filter", group]);
            Assert.True(listing.ExitCode == 0, listing.ToString());
            // "@group" heading, "    # comment", then one entry per line: a call or a nested "@group".
            foreach (string line in listing.Stdout.Split('\n').Skip(1).Select(l => l.Trim()))
            {
                if (line.Length == 0 || line.StartsWith('#')) continue;
                if (line.StartsWith('@')) groups.Enqueue(line); else calls.Add(line);
            }
        }
        return calls;
    }
}
