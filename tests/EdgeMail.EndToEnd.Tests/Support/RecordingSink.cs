using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// An upstream that accepts everything (aiosmtpd on Debian's python3, 127.0.0.1 port 0) and records
/// the Subject of every message before its 250 goes out, so "arrived at the sink" means the sink took
/// responsibility for it. It outlives any number of edgemail restarts.
/// </summary>
public sealed class RecordingSink : IAsyncDisposable
{
    const string Script = """
        import asyncio, sys
        from email.parser import BytesHeaderParser
        from aiosmtpd.smtp import SMTP

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                subject = BytesHeaderParser().parsebytes(envelope.original_content).get('Subject', '')
                # Recorded (stdout flushed) before the 250: what the relay sees accepted was recorded.
                print('DELIVERED ' + ' '.join(str(subject).split()), flush=True)
                return '250 2.0.0 Ok: recorded'

        async def main():
            loop = asyncio.get_running_loop()
            server = await loop.create_server(lambda: SMTP(Handler(), hostname='sink.test'), '127.0.0.1', 0)
            print(server.sockets[0].getsockname()[1], flush=True)
            await loop.run_in_executor(None, sys.stdin.read)

        asyncio.run(main())
        """;

    readonly Process _process;
    readonly ConcurrentDictionary<string, int> _delivered = new();
    readonly StringBuilder _stderr = new();
    readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Port { get; private set; }
    public string Url => $"smtp://127.0.0.1:{Port}";

    /// <summary>Subject → how many times it arrived.</summary>
    public IReadOnlyDictionary<string, int> Delivered => _delivered;

    RecordingSink(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.StartsWith("DELIVERED ", StringComparison.Ordinal))
            {
                _delivered.AddOrUpdate(e.Data["DELIVERED ".Length..], 1, (_, n) => n + 1);
                Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
            else if (int.TryParse(e.Data, out var port))
            {
                _port.TrySetResult(port);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data);
        };
        _process.Exited += (_, _) => _port.TrySetException(new InvalidOperationException("the sink exited before listening"));
    }

    public static async Task<RecordingSink> StartAsync()
    {
        Assert.True(File.Exists(PythonSmtp.Python), $"{PythonSmtp.Python} (Debian's python3 with aiosmtpd) is missing: run ./build.sh test");
        var info = new ProcessStartInfo(PythonSmtp.Python)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        var sink = new RecordingSink(new Process { StartInfo = info, EnableRaisingEvents = true });
        sink._process.Start();
        sink._process.BeginOutputReadLine();
        sink._process.BeginErrorReadLine();
        try
        {
            sink.Port = await sink._port.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            await sink.DisposeAsync();
            Assert.Fail($"the aiosmtpd sink did not start: {e.Message}\n{sink.Log}");
        }
        return sink;
    }

    public string Log { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Completes when every subject has arrived at least once; false when <paramref name="limit"/> passes first.</summary>
    public async Task<bool> WaitForAsync(IReadOnlyCollection<string> subjects, TimeSpan limit)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var changed = Volatile.Read(ref _changed);
            if (subjects.All(_delivered.ContainsKey)) return true;
            var left = limit - deadline.Elapsed;
            if (left <= TimeSpan.Zero) return false;
            try { await changed.Task.WaitAsync(left); }
            catch (TimeoutException) { return subjects.All(_delivered.ContainsKey); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { _process.StandardInput.Close(); } catch (IOException) { }
        try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (TimeoutException) { _process.Kill(); await _process.WaitForExitAsync(); }
        _process.Dispose();
    }
}
