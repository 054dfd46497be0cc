using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace EdgeMail.Smtp.Tests.Support;

/// <summary>How the server's reads are cut: the whole script in one read, one line per read, or one byte per read.</summary>
public enum Feed
{
    Whole,
    Lines,
    Bytes,
    /// <summary>Reads of 1 to 40 bytes cut at pseudo-random places (fixed seed: the same cuts on every run).</summary>
    Random,
}

/// <summary>An in-memory connection: two pipes, one per direction. Protocol tests never open a socket.</summary>
public sealed class DuplexPipe
{
    private readonly Pipe _toServer = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _toClient = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));

    /// <param name="cutSeed">Seeds <see cref="Feed.Random"/>'s cuts; property tests vary it.</param>
    public DuplexPipe(Feed feed, int cutSeed = 5321)
    {
        Server = new ServerStream(_toServer.Reader, _toClient.Writer, feed, cutSeed);
    }

    /// <summary>The stream the session under test reads and writes.</summary>
    public ServerStream Server { get; }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toServer.Writer.WriteAsync(bytes);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>The client half-closes: the server will read end-of-stream after what was sent.</summary>
    public void CloseClient() => _toServer.Writer.Complete();

    /// <summary>Everything the server wrote until it closed the connection.</summary>
    public async Task<string> ReadAllAsync()
    {
        var reader = _toClient.Reader;
        while (true)
        {
            var result = await reader.ReadAsync();
            if (result.IsCompleted)
            {
                string text = Encoding.UTF8.GetString(result.Buffer.ToArray());
                reader.AdvanceTo(result.Buffer.End);
                return text;
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Reads up to and including the next CRLF the server writes (for step-by-step dialogues); null at EOF.</summary>
    public async Task<string?> ReadLineAsync()
    {
        var reader = _toClient.Reader;
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is SequencePosition end)
            {
                var line = buffer.Slice(0, buffer.GetPosition(1, end));
                string text = Encoding.UTF8.GetString(line.ToArray());
                reader.AdvanceTo(line.End);
                return text.TrimEnd('\r', '\n');
            }
            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public sealed class ServerStream : Stream
    {
        private readonly PipeReader _in;
        private readonly PipeWriter _out;
        private readonly Feed _feed;
        private int _disposed;
        private readonly Random _cuts;

        internal ServerStream(PipeReader input, PipeWriter output, Feed feed, int cutSeed)
        {
            _cuts = new Random(cutSeed);
            _in = input;
            _out = output;
            _feed = feed;
        }

        /// <summary>Completes when the session disposed its transport (closed the connection).</summary>
        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var result = await _in.ReadAsync(cancellationToken);
            var data = result.Buffer;
            if (data.IsEmpty && result.IsCompleted)
            {
                _in.AdvanceTo(data.End);
                return 0;
            }
            long take = Math.Min(data.Length, buffer.Length);
            if (_feed == Feed.Bytes)
                take = 1;
            else if (_feed == Feed.Random)
                take = Math.Min(take, _cuts.Next(1, 41));
            else if (_feed == Feed.Lines && data.PositionOf((byte)'\n') is SequencePosition lf)
                take = Math.Min(take, data.Slice(0, lf).Length + 1);
            var chunk = data.Slice(0, take);
            chunk.CopyTo(buffer.Span);
            _in.AdvanceTo(chunk.End);
            return (int)take;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await _out.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override void Flush() { }
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _out.Complete();
                _in.Complete();
                Closed.TrySetResult();
            }
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync()
        {
            Dispose(true);
            return ValueTask.CompletedTask;
        }
    }
}
