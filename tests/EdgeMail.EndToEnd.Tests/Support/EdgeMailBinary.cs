using System.Diagnostics;
using System.Reflection;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// One published native binary under test. `./build.sh test` publishes both targets and names them in
/// EDGEMAIL_BIN_X64 / EDGEMAIL_BIN_ARM64; a developer who ran `./build.sh test` once can also run the
/// suite from an IDE, because we fall back to artifacts/&lt;rid&gt;/edgemail under the repository root.
/// </summary>
public sealed class EdgeMailBinary
{
    public const string X64Variable = "EDGEMAIL_BIN_X64";
    public const string Arm64Variable = "EDGEMAIL_BIN_ARM64";
    public const string QemuLibsVariable = "EDGEMAIL_QEMU_LIBS";

    // The arm64 binary runs under Debian's qemu-user: its loader and libc come from the cross
    // libc package, libssl.so.3 from Debian's arm64 libssl3 unpacked by build.sh.
    const string Qemu = "/usr/bin/qemu-aarch64";
    const string QemuLdPrefix = "/usr/aarch64-linux-gnu";

    public string Rid { get; }
    public string Path { get; }
    public bool UnderQemu => Rid == "linux-arm64";

    EdgeMailBinary(string rid, string path)
    {
        Rid = rid;
        Path = path;
    }

    public static EdgeMailBinary X64 => Locate("linux-x64", X64Variable);
    public static EdgeMailBinary Arm64 => Locate("linux-arm64", Arm64Variable);

    static EdgeMailBinary Locate(string rid, string variable)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(variable);
        string candidate;
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            candidate = System.IO.Path.GetFullPath(fromEnvironment);
        }
        else
        {
            var root = RepositoryRoot.Find();
            candidate = root is null
                ? $"artifacts/{rid}/edgemail (repository root with EdgeMail.sln not found)"
                : System.IO.Path.Combine(root, "artifacts", rid, "edgemail");
        }

        if (!File.Exists(candidate))
        {
            Assert.Fail($"The {rid} edgemail binary is missing: {candidate} does not exist. " +
                        $"Run ./build.sh test (it publishes artifacts/{rid}/edgemail and sets {variable}), " +
                        $"or point {variable} at a published binary.");
        }

        if (rid == "linux-arm64")
        {
            if (!File.Exists(Qemu))
                Assert.Fail($"{Qemu} is missing: run ./build.sh test (it installs qemu-user).");
            var libs = QemuLibraries();
            if (libs is null || !File.Exists(System.IO.Path.Combine(libs, "libssl.so.3")))
                Assert.Fail($"Debian's arm64 libssl.so.3 is missing (looked in {libs ?? "nowhere"}): run ./build.sh test " +
                            $"(it unpacks libssl3 into artifacts/qemu-arm64-root and sets {QemuLibsVariable}).");
        }

        return new EdgeMailBinary(rid, candidate);
    }

    static string? QemuLibraries()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(QemuLibsVariable);
        if (!string.IsNullOrEmpty(fromEnvironment)) return fromEnvironment;
        var root = RepositoryRoot.Find();
        return root is null ? null : System.IO.Path.Combine(root, "artifacts", "qemu-arm64-root", "usr", "lib", "aarch64-linux-gnu");
    }

    /// <summary>A start description for `edgemail ARGS`, wrapped in qemu-aarch64 for the arm64 binary.</summary>
    public ProcessStartInfo StartInfo(IEnumerable<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        if (UnderQemu)
        {
            info.FileName = Qemu;
            info.ArgumentList.Add(Path);
            info.Environment["QEMU_LD_PREFIX"] = QemuLdPrefix;
            info.Environment["LD_LIBRARY_PATH"] = QemuLibraries()!;
        }
        else
        {
            info.FileName = Path;
        }
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        return info;
    }

    public override string ToString() => $"{Rid}:{Path}";
}

static class RepositoryRoot
{
    // Walk up to EdgeMail.sln from the test sources (recorded at build time), the test assembly and
    // the working directory: with a private --artifacts-path the assembly lives outside the repository.
    public static string? Find()
    {
        var starts = new List<string?>
        {
            typeof(RepositoryRoot).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "EdgeMail.SourceDirectory")?.Value,
            AppContext.BaseDirectory,
            Directory.GetCurrentDirectory(),
        };
        foreach (var start in starts)
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "EdgeMail.sln"))) return dir.FullName;
            }
        }
        return null;
    }
}
