using Microsoft.Extensions.Logging;

namespace EdgeMail.Spool;

/// <summary>
/// The durable queue on disk. CONTRACT (implementation pending): one file per message, written once;
/// commit = write → fsync(file) → rename into queue/ → fsync(dir), shared between concurrent
/// committers (group commit); state changes after commit go to small append-only side records.
/// Thread-safe: many sessions write at once, the relay reads and records attempts concurrently.
/// </summary>
public sealed class MessageSpool : IDisposable
{
    /// <summary>Opens (creating folders as needed) and runs start-up recovery.</summary>
    public static MessageSpool Open(SpoolOptions options, ILogger? logger = null) => throw new NotImplementedException();

    public string Directory => throw new NotImplementedException();

    /// <summary>Raised after a message is durably committed (argument: queue ID). Used by the relay scheduler.</summary>
    public event Action<string>? Committed;

    /// <summary>Would a message of <paramref name="size"/> bytes fit (spool limit and free space)? Used at MAIL FROM SIZE=.</summary>
    public bool HasRoomFor(long size) => throw new NotImplementedException();

    /// <summary>Starts a new message: allocates its queue ID and creates its temporary file.
    /// Throws <see cref="SpoolException"/>.</summary>
    public SpoolWriter Create(Envelope envelope) => throw new NotImplementedException();

    /// <summary>Every committed message (held ones included), oldest first.</summary>
    public IReadOnlyList<QueueEntry> List() => throw new NotImplementedException();

    /// <summary>One message, or null when the ID is unknown (or not a valid queue ID).</summary>
    public QueueEntry? Get(string id) => throw new NotImplementedException();

    /// <summary>A read-only stream over exactly the message bytes (no spool header or trailer).</summary>
    public Stream OpenMessage(string id) => throw new NotImplementedException();

    /// <summary>Appends one delivery attempt to the message's side record (fsynced).</summary>
    public void RecordAttempt(string id, AttemptRecord attempt) => throw new NotImplementedException();

    /// <summary>Removes a message whose recipients all have a final outcome.</summary>
    public void Complete(string id) => throw new NotImplementedException();

    public bool Delete(string id) => throw new NotImplementedException();
    public bool Hold(string id) => throw new NotImplementedException();
    public bool Release(string id) => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();

    internal void OnCommitted(string id) => Committed?.Invoke(id);
}
