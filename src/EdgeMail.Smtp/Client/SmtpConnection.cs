using System.Net.Security;
using System.Text;

namespace EdgeMail.Smtp.Client;

/// <summary>The byte pipe under a session: one fixed read buffer for replies and one fixed write buffer for
/// commands and message data, every operation bounded by a timeout. Knows nothing about SMTP semantics; every
/// failure leaves as an <see cref="SmtpClientException"/> built by <see cref="SmtpTrouble"/>.</summary>
internal sealed class SmtpConnection : IAsyncDisposable
{
    private Stream _stream;
    private readonly byte[] _in;
    private int _start, _end;
    private readonly byte[] _out;
    private int _outLength;

    internal SmtpConnection(Stream stream, string remoteHost, int readBufferSize, int writeBufferSize)
    {
        _stream = stream;
        RemoteHost = remoteHost;
        _in = new byte[readBufferSize];
        _out = new byte[writeBufferSize];
    }

    internal string RemoteHost { get; }
    internal bool IsTls => _stream is SslStream;
    internal byte[] WriteBuffer => _out;

    /// <summary>Replaces the transport after STARTTLS. Anything the server sent after its 220 is discarded: it was
    /// not protected by TLS and could be injected (the STARTTLS command-injection class, CVE-2011-0411).</summary>
    internal void UpgradeTo(SslStream tls)
    {
        _stream = tls;
        _start = _end = 0;
    }

    internal Stream Transport => _stream;

    internal bool HasBufferedInput => _end > _start;

    /// <summary>Appends a command (ASCII, or UTF-8 for SMTPUTF8 addresses) and CRLF to the write buffer.</summary>
    internal bool TryAppendLine(string command)
    {
        int n = Encoding.UTF8.GetByteCount(command);
        if (_outLength + n + 2 > _out.Length) return false;
        _outLength += Encoding.UTF8.GetBytes(command, _out.AsSpan(_outLength));
        _out[_outLength++] = (byte)'\r';
        _out[_outLength++] = (byte)'\n';
        return true;
    }

    internal bool IsWriteBufferEmpty => _outLength == 0;

    internal void AppendLine(string command)
    {
        if (!TryAppendLine(command))
            throw new InvalidOperationException("command longer than the write buffer");
    }

    /// <summary>Sends everything appended so far in one write.</summary>
    internal async Task FlushAsync(TimeSpan timeout, string stage, CancellationToken ct, bool wipe = false)
    {
        await WriteAsync(_out.AsMemory(0, _outLength), timeout, stage, ct);
        if (wipe) Array.Clear(_out, 0, _outLength);   // AUTH lines carry secrets; do not leave them in memory
        _outLength = 0;
    }

    internal async Task WriteAsync(ReadOnlyMemory<byte> data, TimeSpan timeout, string stage, CancellationToken ct)
    {
        if (data.IsEmpty) return;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(data, cts.Token);
            await _stream.FlushAsync(cts.Token);
        }
        catch (Exception ex) when (ex is not SmtpClientException)
        {
            throw SmtpTrouble.FromTransport(ex, RemoteHost, stage, ct);
        }
    }

    /// <summary>Reads one complete reply. When <paramref name="lines"/> is given, each line's text after the code
    /// is copied there as bytes (for EHLO keywords).</summary>
    internal async Task<SmtpReply> ReadReplyAsync(TimeSpan timeout, string stage, CancellationToken ct, List<byte[]>? lines = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var parser = new SmtpReplyParser();
        bool any = false;
        try
        {
            while (true)
            {
                int lf = _in.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                if (lf >= 0)
                {
                    any = true;
                    if (FeedLine(ref parser, lf, lines, stage))
                        return parser.ToReply();
                    continue;
                }
                if (_start > 0)
                {
                    // Compact: the partial line moves to the front so the buffer never grows.
                    Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _in.Length)
                    throw SmtpTrouble.Protocol(RemoteHost, stage, $"reply line longer than {_in.Length} bytes");
                int n = await _stream.ReadAsync(_in.AsMemory(_end), cts.Token);
                if (n == 0)
                    throw SmtpTrouble.Protocol(RemoteHost, stage, any || _end > _start
                        ? "connection closed by the server in the middle of a reply"
                        : "connection closed by the server");
                _end += n;
            }
        }
        catch (Exception ex) when (ex is not SmtpClientException)
        {
            throw SmtpTrouble.FromTransport(ex, RemoteHost, stage, ct);
        }
    }

    private bool FeedLine(ref SmtpReplyParser parser, int lf, List<byte[]>? lines, string stage)
    {
        var line = _in.AsSpan(_start, lf);
        _start += lf + 1;
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];   // a bare LF is tolerated from servers
        if (!parser.Feed(line, out var text, out var error) && error is not null)
            throw SmtpTrouble.Protocol(RemoteHost, stage, error);
        lines?.Add(text.ToArray());
        return parser.IsComplete;
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
