using System.Text;
using EdgeMail.Smtp.Client;

namespace EdgeMail.Smtp.Tests.Client.Support;

/// <summary>How the scripted server splits what it sends: the whole reply in one write, one write per line, or
/// one write per byte. The client must read the same replies whatever the split.</summary>
public enum Feed { Whole, Line, Byte }

/// <summary>Plays the server side of a transcript (cf. OpenSMTPD's smtpscript, MailKit's replay stream):
/// <list type="bullet">
/// <item><c>S: text</c> — a reply line; consecutive S lines form one reply, written as <see cref="Feed"/> says;</item>
/// <item><c>C: text</c> — the client must send exactly this line next (<c>C:</c> alone: an empty line);</item>
/// <item><c>C: &lt;data&gt;</c> — the client sends message data up to and including CRLF.CRLF, kept in <see cref="Data"/>;</item>
/// <item><c>S: &lt;close&gt;</c> — the server closes the connection.</item>
/// </list></summary>
public sealed class ScriptedServer
{
    private readonly string[] _script;
    private readonly Feed _feed;
    private readonly DuplexStream _stream;
    private readonly byte[] _buffer = new byte[65536];
    private int _start, _end;

    private ScriptedServer(string[] script, Feed feed, DuplexStream stream)
    {
        _script = script;
        _feed = feed;
        _stream = stream;
    }

    public List<byte[]> Data { get; } = [];

    /// <summary>Runs <paramref name="client"/> against the script; the script's own failures (the client said
    /// something else) are reported in preference to what they made the client do.</summary>
    public static async Task<(T Result, ScriptedServer Server, DuplexStream ClientEnd)> RunAsync<T>(
        string script, Feed feed, Func<Stream, Task<T>> client)
    {
        var (clientEnd, serverEnd) = DuplexStream.CreatePair();
        var lines = script.Replace("\r\n", "\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var server = new ScriptedServer(lines, feed, serverEnd);
        var serverTask = Task.Run(server.PlayAsync);
        T result;
        try
        {
            result = await client(clientEnd);
        }
        catch
        {
            if (serverTask.IsFaulted) await serverTask;   // the script's assertion is the real story
            throw;
        }
        await serverTask;
        return (result, server, clientEnd);
    }

    private async Task PlayAsync()
    {
        try
        {
            for (int i = 0; i < _script.Length; i++)
            {
                var step = _script[i];
                if (step == "S: <close>")
                {
                    _stream.CloseOutput();
                    return;
                }
                if (step.StartsWith("S: ", StringComparison.Ordinal))
                {
                    var reply = new StringBuilder();
                    for (; i < _script.Length && _script[i].StartsWith("S: ", StringComparison.Ordinal) && _script[i] != "S: <close>"; i++)
                        reply.Append(_script[i].AsSpan(3)).Append("\r\n");
                    i--;
                    await SendAsync(Encoding.UTF8.GetBytes(reply.ToString()));
                }
                else if (step == "C:")   // an empty line (trimmed by the script reader)
                    Assert.Equal("", await ReadLineAsync());
                else if (step == "C: <data>")
                    Data.Add(await ReadDataAsync());
                else if (step.StartsWith("C: ", StringComparison.Ordinal))
                    Assert.Equal(step[3..], await ReadLineAsync());
                else if (step.StartsWith("S+ ", StringComparison.Ordinal))
                    // A partial line with no CRLF: the server then closes in the middle of a reply.
                    await SendAsync(Encoding.UTF8.GetBytes(step[3..]));
                else
                    throw new InvalidOperationException("bad script line: " + step);
            }
        }
        finally
        {
            _stream.CloseOutput();
        }
    }

    private async Task SendAsync(byte[] bytes)
    {
        switch (_feed)
        {
            case Feed.Whole:
                await _stream.WriteAsync(bytes);
                break;
            case Feed.Line:
                for (int at = 0; at < bytes.Length;)
                {
                    int lf = Array.IndexOf(bytes, (byte)'\n', at);
                    int end = lf < 0 ? bytes.Length : lf + 1;
                    await _stream.WriteAsync(bytes.AsMemory(at, end - at));
                    at = end;
                }
                break;
            default:
                for (int at = 0; at < bytes.Length; at++)
                    await _stream.WriteAsync(bytes.AsMemory(at, 1));
                break;
        }
    }

    private async Task<string> ReadLineAsync()
    {
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                Assert.True(lf > _start && _buffer[lf - 1] == (byte)'\r', "client line must end in CRLF");
                var line = Encoding.UTF8.GetString(_buffer, _start, lf - 1 - _start);
                _start = lf + 1;
                return line;
            }
            await FillAsync();
        }
    }

    private async Task<byte[]> ReadDataAsync()
    {
        var data = new MemoryStream();
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            data.Write(span);
            _start = _end;
            var bytes = data.GetBuffer().AsSpan(0, (int)data.Length);
            int end = bytes.IndexOf("\r\n.\r\n"u8);
            if (end < 0 && bytes.StartsWith(".\r\n"u8)) end = -2;   // an empty message
            if (end != -1)
            {
                int cut = end == -2 ? 3 : end + 5;
                // Whatever follows the terminator belongs to the next command.
                var after = bytes[cut..].ToArray();
                after.CopyTo(_buffer, 0);
                _start = 0;
                _end = after.Length;
                return bytes[..cut].ToArray();
            }
            await FillAsync();
        }
    }

    private async Task FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int n = await _stream.ReadAsync(_buffer.AsMemory(_end));
        if (n == 0) throw new EndOfStreamException("client closed the connection");
        _end += n;
    }

    /// <summary>Opens a client session over <paramref name="stream"/> without TLS.</summary>
    public static Task<SmtpClientSession> ConnectAsync(Stream stream, SmtpClientOptions? options = null) =>
        SmtpClientSession.ConnectAsync(stream, "mx.test", TlsMode.None, options ?? Options(), CancellationToken.None);

    public static SmtpClientOptions Options(SmtpCredentials? credentials = null, int bufferSize = 8192, bool allowPlaintextAuth = false) => new()
    {
        HeloName = "client.test",
        Credentials = credentials,
        BufferSize = bufferSize,
        AllowPlaintextAuth = allowPlaintextAuth,
    };
}
