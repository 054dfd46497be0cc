using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeMail.Relay.Tests.Fakes;

/// <summary>A helper process started by a test (aiosmtpd script, smtp-sink, dnsmasq); killed on dispose.</summary>
internal sealed class HelperProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private HelperProcess(Process process) => _process = process;

    public string FirstLine { get; private set; } = "";
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private event Action<string>? StderrLine;

    /// <summary>Waits for a stderr line containing <paramref name="text"/>; false when the process ends first.</summary>
    public async Task<bool> WaitForStderrAsync(string text)
    {
        var seen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check(string line) { if (line.Contains(text)) seen.TrySetResult(true); }
        StderrLine += Check;
        try
        {
            if (Stderr.Contains(text)) return true;
            var first = await Task.WhenAny(seen.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(30));
            return first == seen.Task || Stderr.Contains(text);
        }
        finally { StderrLine -= Check; }
    }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Starts the process; when <paramref name="readLine"/>, waits for its first stdout line (its port).</summary>
    public static async Task<HelperProcess> StartAsync(string file, IEnumerable<string> args, bool readLine)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var helper = new HelperProcess(p);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { helper._stderrClosed.TrySetResult(); return; }
            lock (helper._stderr) helper._stderr.AppendLine(e.Data);
            helper.StderrLine?.Invoke(e.Data);
        };
        p.BeginErrorReadLine();
        if (readLine)
        {
            var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            helper.FirstLine = line ?? throw new InvalidOperationException($"{file} exited: {helper.Stderr}");
        }
        return helper;
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
        _process.Dispose();
    }

    /// <summary>A port that was free a moment ago (for tools that cannot bind port 0 and report it).</summary>
    public static int FreePort(SocketType type = SocketType.Stream)
    {
        using var s = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}

/// <summary>The aiosmtpd upstream in upstreams/upstream.py; messages land in <see cref="OutDir"/>.</summary>
internal sealed class AioUpstream : IDisposable
{
    private readonly HelperProcess _process;
    public string OutDir { get; }
    public int Port { get; }
    public int TokenPort { get; }

    private AioUpstream(HelperProcess process, string outDir)
    {
        _process = process;
        OutDir = outDir;
        var parts = process.FirstLine.Split(' ');
        Port = int.Parse(parts[0]);
        if (parts.Length > 1) TokenPort = int.Parse(parts[1]);
    }

    public static async Task<AioUpstream> StartAsync(string mode, TestCertificate? cert = null)
    {
        var outDir = Directory.CreateTempSubdirectory("edgemail-upstream-").FullName;
        var script = Path.Combine(AppContext.BaseDirectory, "upstreams", "upstream.py");
        // Debian's interpreter: it has python3-aiosmtpd; the python3 first on PATH may not.
        string[] args = cert is null ? [script, mode, outDir] : [script, mode, outDir, cert.CertFile, cert.KeyFile];
        return new AioUpstream(await HelperProcess.StartAsync("/usr/bin/python3", args, readLine: true), outDir);
    }

    public string Url(string scheme = "smtp") => $"{scheme}://127.0.0.1:{Port}";

    /// <summary>Messages received so far, in order: (envelope lines, DATA bytes).</summary>
    public List<(string[] Envelope, byte[] Data)> Received()
        => Directory.GetFiles(OutDir, "*.eml")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)))
            .Select(f => (File.ReadAllLines(Path.ChangeExtension(f, ".env")), File.ReadAllBytes(f)))
            .ToList();

    public string Stderr => _process.Stderr;

    public void Dispose()
    {
        _process.Dispose();
        try { Directory.Delete(OutDir, true); } catch (IOException) { }
    }
}

/// <summary>A throwaway self-signed certificate for 127.0.0.1, made with openssl.</summary>
internal sealed class TestCertificate : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("edgemail-cert-").FullName;
    public string CertFile => Path.Combine(Dir, "cert.pem");
    public string KeyFile => Path.Combine(Dir, "key.pem");

    public TestCertificate()
    {
        var psi = new ProcessStartInfo("openssl")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", KeyFile, "-out", CertFile, "-days", "2", "-subj", "/CN=127.0.0.1",
                     "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("openssl: " + err);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
