using System.Collections.Concurrent;
using System.Threading.Channels;

namespace EdgeMail.Smtp.Tests.Client.Support;

/// <summary>An in-memory connection: what one end writes, the other reads, chunk by chunk exactly as written
/// (so a test controls how replies are split across reads), and every write is recorded (so a test can see
/// what went out together). Disposing an end is a close: the other end reads 0.</summary>
public sealed class DuplexStream : Stream
{
    private readonly Channel<byte[]> _incoming;
    private readonly Channel<byte[]> _outgoing;
    private ReadOnlyMemory<byte> _current;

    private DuplexStream(Channel<byte[]> incoming, Channel<byte[]> outgoing)
    {
        _incoming = incoming;
        _outgoing = outgoing;
    }

    public static (DuplexStream Client, DuplexStream Server) CreatePair()
    {
        var toServer = Channel.CreateUnbounded<byte[]>();
        var toClient = Channel.CreateUnbounded<byte[]>();
        return (new DuplexStream(toClient, toServer), new DuplexStream(toServer, toClient));
    }

    /// <summary>Every write made on this end, in order, one entry per Write call.</summary>
    public ConcurrentQueue<byte[]> Writes { get; } = new();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (_current.IsEmpty)
        {
            if (!await _incoming.Reader.WaitToReadAsync(ct)) return 0;
            if (_incoming.Reader.TryRead(out var chunk)) _current = chunk;
        }
        int n = Math.Min(buffer.Length, _current.Length);
        _current[..n].CopyTo(buffer);
        _current = _current[n..];
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return ValueTask.CompletedTask;
        var copy = buffer.ToArray();
        Writes.Enqueue(copy);
        // A write to a closed peer is lost, as on a socket whose peer has gone.
        _outgoing.Writer.TryWrite(copy);
        return ValueTask.CompletedTask;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>Closes this end's sending direction: the peer reads end of stream.</summary>
    public void CloseOutput() => _outgoing.Writer.TryComplete();

    protected override void Dispose(bool disposing)
    {
        _outgoing.Writer.TryComplete();
        _incoming.Writer.TryComplete();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
