using System.IO.Hashing;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// One message being received. Bytes are written straight to the temporary file as they arrive
/// (no buffering of the message in memory). Nothing is visible in the queue until
/// <see cref="CommitAsync"/> returns; disposing without commit removes the temporary file.
/// Not for concurrent use: one session writes one message.
/// </summary>
public sealed class SpoolWriter : IAsyncDisposable
{
    private enum State { Open, Faulted, Committed, Aborted }

    private readonly MessageSpool? _spool;           // null for a maildrop writer (no daemon)
    private readonly ISpoolFileSystem _fs;
    private readonly ILogger _logger;
    private readonly string _tempPath;
    private readonly string _finalDirectory;
    private readonly bool _fsync;
    private readonly Envelope _envelope;
    private readonly int _headerLength;
    private readonly XxHash64 _hash = new();
    private SafeFileHandle? _file;
    private long _length;
    private long _reserved;                           // bytes counted against the spool limit
    private State _state;
    private SpoolError _fault;

    internal SpoolWriter(MessageSpool? spool, ISpoolFileSystem fs, ILogger logger, string queueId, Envelope envelope,
        string tempPath, string finalDirectory, bool fsync, SafeFileHandle file, byte[] header, long reserved)
    {
        _spool = spool;
        _fs = fs;
        _logger = logger;
        QueueId = queueId;
        _envelope = envelope;
        _tempPath = tempPath;
        _finalDirectory = finalDirectory;
        _fsync = fsync;
        _file = file;
        _headerLength = header.Length;
        _reserved = reserved;
        _hash.Append(header);
    }

    public string QueueId { get; }

    /// <summary>Message bytes written so far.</summary>
    public long Length => _length;

    /// <summary>Appends message bytes. Throws <see cref="SpoolException"/>
    /// (InsufficientStorage when the spool limit or free-space floor is crossed, IoError otherwise).
    /// After a failure the temporary file is already gone; later calls throw the same kind.</summary>
    // Both run once or more per message and usually complete asynchronously (the write is queued to the thread
    // pool): the pooling builder reuses their state machine boxes instead of allocating one per call. Callers
    // await each ValueTask once, as ValueTask requires anyway.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        if (data.IsEmpty)
            return;
        if (_spool is not null)
        {
            if (!_spool.TryReserve(data.Length, out string? why))
            {
                Fault(SpoolError.InsufficientStorage);
                throw new SpoolException(SpoolError.InsufficientStorage, why);
            }
            _reserved += data.Length;
        }
        try
        {
            await _fs.WriteAsync(_file!, data, _headerLength + _length, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Fault(SpoolError.IoError);
            throw;
        }
        catch (Exception e)
        {
            SpoolException se = SpoolErrors.Wrap(e, "write");
            Fault(se.Error);
            throw se;
        }
        _hash.Append(data.Span);
        _length += data.Length;
    }

    /// <summary>Makes the message durable and visible in the queue. Returns only after
    /// fsync(file), rename into the queue and fsync(directory) have all succeeded; throws
    /// <see cref="SpoolException"/> otherwise, leaving nothing in the queue.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        cancellationToken.ThrowIfCancellationRequested();
        string finalPath = Path.Combine(_finalDirectory, QueueId);
        long fileLength = _headerLength + _length + QueueFile.TrailerLength;
        try
        {
            byte[] trailer = QueueFile.EncodeTrailer(_length, _hash.GetCurrentHashAsUInt64());
            // The trailer's 24 bytes are not checked against the limit: refusing a finished message
            // over them would only surprise; they are counted.
            _spool?.ForceReserve(trailer.Length);
            _reserved += trailer.Length;
            await _fs.WriteAsync(_file!, trailer, _headerLength + _length, CancellationToken.None).ConfigureAwait(false);
            if (_fsync)
                _fs.FlushFile(_file!);
            _file!.Dispose();
            _file = null;
        }
        catch (Exception e)
        {
            SpoolException se = SpoolErrors.Wrap(e, "commit");
            Fault(se.Error);
            throw se;
        }

        try
        {
            if (_spool is not null)
            {
                await _spool.Committer.CommitAsync(_tempPath, finalPath).ConfigureAwait(false);
            }
            else
            {
                // maildrop: the sendmail process commits alone, no group to share with.
                _fs.Rename(_tempPath, finalPath);
                try
                {
                    if (_fsync)
                        _fs.FlushDirectory(_finalDirectory);
                }
                catch
                {
                    TryDelete(finalPath);
                    throw;
                }
            }
        }
        catch (Exception e)
        {
            // Whatever failed, the committer/maildrop path has made sure finalPath is gone.
            var se = e as SpoolException ?? new SpoolException(SpoolError.IoError, $"commit: {e.Message}", e);
            Fault(se.Error);
            throw se;
        }

        _state = State.Committed;
        _spool?.OnWriterCommitted(this, _envelope, _headerLength, _length, fileLength);
    }

    /// <summary>Discards the message (removes the temporary file). Safe to call more than once.</summary>
    public void Abort()
    {
        if (_state is State.Committed or State.Aborted)
            return;
        if (_state == State.Open)
            Discard();
        _state = State.Aborted;
    }

    public ValueTask DisposeAsync()
    {
        Abort();
        return ValueTask.CompletedTask;
    }

    private void ThrowIfNotOpen()
    {
        switch (_state)
        {
            case State.Open: return;
            case State.Faulted: throw new SpoolException(_fault, "the message could not be spooled (an earlier step failed)");
            case State.Committed: throw new InvalidOperationException("message already committed");
            default: throw new SpoolException(SpoolError.IoError, "message was aborted");
        }
    }

    private void Fault(SpoolError error)
    {
        if (_state != State.Open)
            return;
        _fault = error;
        _state = State.Faulted;
        Discard();
    }

    /// <summary>Frees what the message held at once (space matters most right when a write failed for lack of it).</summary>
    private void Discard()
    {
        _file?.Dispose();
        _file = null;
        TryDelete(_tempPath);
        _spool?.Release(_reserved);
        _reserved = 0;
    }

    private void TryDelete(string path)
    {
        try
        {
            _fs.Delete(path);
        }
        catch (Exception e)
        {
            _logger.LogWarning("spool: could not remove {Path}: {Error}", path, e.Message);
        }
    }
}
