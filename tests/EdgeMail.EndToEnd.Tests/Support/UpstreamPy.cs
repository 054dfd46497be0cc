using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// The relay tests' upstream.py under Debian's python3 (aiosmtpd), on a loopback port it prints: "plain" accepts
/// everything; "tempfail" answers the first DATA with 451. It writes each accepted message to OUTDIR/N.eml before
/// the 250. Disposing closes its stdin, which stops it.
/// </summary>
public sealed class UpstreamPy : IDisposable
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    readonly Process _process;

    UpstreamPy(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The URL to give `serve --relay`.</summary>
    public string Url => $"smtp://127.0.0.1:{Port}";

    static string Script([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "EdgeMail.Relay.Tests", "upstreams", "upstream.py"));

    public static async Task<UpstreamPy> StartAsync(string outDir, string mode = "plain")
    {
        Directory.CreateDirectory(outDir);
        var info = new ProcessStartInfo(PythonSmtp.Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Script());
        info.ArgumentList.Add(mode);
        info.ArgumentList.Add(outDir);
        var process = Process.Start(info)!;
        string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(Limit);
        if (!int.TryParse(line, out int port))
        {
            process.Kill();
            Assert.Fail("upstream.py did not print its port: " + line + process.StandardError.ReadToEnd());
        }
        return new UpstreamPy(process, port);
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }
}
