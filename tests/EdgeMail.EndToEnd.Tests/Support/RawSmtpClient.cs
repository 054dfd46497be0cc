using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeMail.EndToEnd.Tests.Support;

public sealed record SmtpReply(int Code, IReadOnlyList<string> Lines)
{
    public string Text => string.Join("\n", Lines);
    public override string ToString() => Text;
}

/// <summary>
/// A socket client that sends exactly the bytes a test gives it: for the hostile inputs no real client
/// will produce (bare LF, `LF.LF`). Replies are parsed per RFC 5321 §4.2.1: `ddd-` continues, `ddd ` ends.
/// </summary>
public sealed class RawSmtpClient : IAsyncDisposable
{
    static readonly TimeSpan ReplyLimit = TimeSpan.FromSeconds(30);

    readonly TcpClient _tcp;
    readonly NetworkStream _stream;
    readonly byte[] _buffer = new byte[4096];
    int _start, _end;

    RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawSmtpClient> ConnectAsync(IPEndPoint endpoint)
    {
        var tcp = new TcpClient(endpoint.AddressFamily);
        await tcp.ConnectAsync(endpoint);
        return new RawSmtpClient(tcp);
    }

    public Task SendAsync(string ascii) => SendAsync(Encoding.ASCII.GetBytes(ascii));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    public async Task<SmtpReply> ReadReplyAsync()
    {
        using var timeout = new CancellationTokenSource(ReplyLimit);
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(timeout.Token)
                       ?? throw new IOException($"connection closed inside a reply; read so far: {string.Join(" | ", lines)}");
            lines.Add(line);
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), out var code))
                throw new IOException($"not an SMTP reply line: '{line}'");
            if (line.Length == 3 || line[3] == ' ') return new SmtpReply(code, lines);
        }
    }

    /// <summary>Sends one command line and returns its reply.</summary>
    public async Task<SmtpReply> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>True when the server has closed the connection (read returns end of stream).</summary>
    public async Task<bool> IsClosedAsync()
    {
        using var timeout = new CancellationTokenSource(ReplyLimit);
        return _start == _end && await _stream.ReadAsync(_buffer, timeout.Token) == 0;
    }

    async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length > 0 && _buffer[newline - 1] == '\r') length--;
                var line = Encoding.Latin1.GetString(_buffer, _start, length);
                _start = newline + 1;
                return line;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) throw new IOException("reply line longer than 4096 bytes");
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0) return null;
            _end += read;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
