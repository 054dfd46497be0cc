namespace EdgeMail.Spool;

/// <summary>
/// One message being received. Bytes are written straight to the temporary file as they arrive
/// (no buffering of the message in memory). Nothing is visible in the queue until
/// <see cref="CommitAsync"/> returns; disposing without commit removes the temporary file.
/// </summary>
public sealed class SpoolWriter : IAsyncDisposable
{
    public string QueueId => throw new NotImplementedException();

    /// <summary>Message bytes written so far.</summary>
    public long Length => throw new NotImplementedException();

    /// <summary>Appends message bytes. Throws <see cref="SpoolException"/>
    /// (InsufficientStorage when the spool limit or free-space floor is crossed, IoError otherwise).</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Makes the message durable and visible in the queue. Returns only after
    /// fsync(file), rename into the queue and fsync(directory) have all succeeded; throws
    /// <see cref="SpoolException"/> otherwise, leaving nothing in the queue.</summary>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Discards the message (removes the temporary file). Safe to call more than once.</summary>
    public void Abort() => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
