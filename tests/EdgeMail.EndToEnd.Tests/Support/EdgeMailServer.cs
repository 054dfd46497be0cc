using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// `edgemail serve` on port 0 over a spool directory. Start-up is awaited on the process's own
/// announcement (`listening on 127.0.0.1:PORT` on stdout), never on a delay; stderr (the log) is kept
/// for failure messages.
/// </summary>
public sealed partial class EdgeMailServer : IAsyncDisposable
{
    // qemu-user translates every instruction of a cold NativeAOT binary: give it room, but keep a bound.
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);
    static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(30);

    readonly Process _process;
    readonly StringBuilder _stderr = new();
    readonly StringBuilder _stdout = new();
    readonly TaskCompletionSource<IPEndPoint> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly string _command;
    ITestOutputHelper? _output;
    bool _launched;

    public EdgeMailBinary Binary { get; }
    public string SpoolDirectory { get; }
    public IPEndPoint Endpoint { get; private set; } = null!;
    public int Port => Endpoint.Port;
    public int ProcessId => _process.Id;
    /// <summary>The edgemail process itself: <see cref="ProcessId"/>, or its child when it runs under a launcher
    /// (strace).</summary>
    public int DaemonProcessId => _launched ? ChildOf(_process.Id) : _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Each line the server logs, as it arrives (after it is added to <see cref="Log"/>).</summary>
    public event Action<string>? LogLine;

    /// <summary>What the server has written to stderr so far (its log).</summary>
    public string Log { get { lock (_stderr) return _stderr.ToString(); } }

    [GeneratedRegex(@"^listening on (127\.0\.0\.1|\[?::1\]?):(\d+)$")]
    private static partial Regex ListeningLine();

    EdgeMailServer(EdgeMailBinary binary, string spool, ProcessStartInfo info)
    {
        Binary = binary;
        SpoolDirectory = spool;
        _command = string.Join(' ', new[] { info.FileName }.Concat(info.ArgumentList));
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            // End of stdout: the exit handler reports the exit code, which says more.
            if (e.Data is null) return;
            lock (_stdout) _stdout.AppendLine(e.Data);
            var match = ListeningLine().Match(e.Data);
            if (match.Success)
                _listening.TrySetResult(new IPEndPoint(IPAddress.Parse(match.Groups[1].Value.Trim('[', ']')), int.Parse(match.Groups[2].Value)));
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.AppendLine(e.Data);
            LogLine?.Invoke(e.Data);
        };
        _process.Exited += (_, _) =>
            _listening.TrySetException(new InvalidOperationException($"edgemail exited with code {_process.ExitCode} before listening"));
    }

    /// <param name="output">When given, the server's command line and log are written there at the end of the test,
    /// so a failing test shows what the server said.</param>
    /// <param name="holdWithoutUpstream">Direct MX delivery is on by default in the product; here it is off
    /// (`--mx-delivery false`) unless this is false (the product's default) or the test passes its own `--mx-delivery`: without an upstream, mail to example.com/example.test stays queued
    /// instead of going to whatever this machine's resolver says (this sandbox's answers NXDOMAIN, which bounces
    /// the mail out of the queue). A test's `--relay` still relays: an upstream wins over MX delivery.</param>
    public static async Task<EdgeMailServer> StartAsync(EdgeMailBinary binary, string spoolDirectory, ITestOutputHelper? output = null,
                                                       string? configFile = null, IEnumerable<string>? extraArguments = null,
                                                       bool holdWithoutUpstream = true, IReadOnlyList<string>? launcher = null)
    {
        var arguments = new List<string> { "serve", "--listen", "127.0.0.1:0", "--spool", spoolDirectory };
        if (configFile is not null) arguments.AddRange(["--config", configFile]);
        if (extraArguments is not null) arguments.AddRange(extraArguments);
        if (holdWithoutUpstream && !arguments.Contains("--mx-delivery")) arguments.AddRange(["--mx-delivery", "false"]);

        var info = binary.StartInfo(arguments, Path.GetDirectoryName(spoolDirectory)!);
        if (launcher is not null)
        {
            // launcher[0] launcher[1..] BINARY ARGUMENTS..., e.g. strace -f -c -o FILE edgemail serve ...
            var inner = new List<string> { info.FileName };
            inner.AddRange(info.ArgumentList);
            info.FileName = launcher[0];
            info.ArgumentList.Clear();
            foreach (var a in launcher.Skip(1).Concat(inner)) info.ArgumentList.Add(a);
        }
        var server = new EdgeMailServer(binary, spoolDirectory, info);
        server._output = output;
        server._launched = launcher is not null;
        server._process.Start();
        server._process.StandardInput.Close();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            server.Endpoint = await server._listening.Task.WaitAsync(StartLimit);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            await server.KillAsync();
            Assert.Fail($"{server._command} did not start: {e.Message}\n{server.Diagnostics()}");
        }
        return server;
    }

    /// <summary>SIGTERM (as systemd stops the service) or SIGINT (Ctrl-C); returns the exit code (0 expected).</summary>
    public async Task<int> StopAsync(int signal = SIGTERM)
    {
        if (!_process.HasExited)
        {
            // Under qemu-user the signal goes to the emulator, which delivers it to the guest program.
            // Under a launcher the signal goes to edgemail itself; the launcher ends when it does.
            int target = DaemonProcessId;
            if (kill(target, signal) != 0 && !_process.HasExited)
                Assert.Fail($"kill({target}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
            try
            {
                await _process.WaitForExitAsync().WaitAsync(StopLimit);
            }
            catch (TimeoutException)
            {
                await KillAsync();
                Assert.Fail($"edgemail did not stop within {StopLimit.TotalSeconds} s of signal {signal}\n{Diagnostics()}");
            }
        }
        // The exit event fires before the redirected streams are drained; wait for them too.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>kill -9: the crash or power cut a durable queue must survive.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public string Diagnostics()
    {
        string stdout;
        lock (_stdout) stdout = _stdout.ToString();
        return $"$ {_command}\n--- stdout ---\n{stdout}--- stderr ---\n{Log}";
    }

    public async ValueTask DisposeAsync()
    {
        try { await KillAsync(); }
        catch (InvalidOperationException) { }
        try { _output?.WriteLine(Diagnostics()); }
        catch (InvalidOperationException) { } // the test has already finished
        _process.Dispose();
    }

    static int ChildOf(int pid) =>
        int.Parse(File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);

    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);
}
