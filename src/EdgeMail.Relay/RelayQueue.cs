using EdgeMail.Spool;

namespace EdgeMail.Relay;

/// <summary>What the scheduler needs from the spool; <see cref="SpoolQueue"/> is the real one.</summary>
internal interface IRelayQueue
{
    event Action<string>? Committed;
    string Directory { get; }
    IReadOnlyList<QueueEntry> List();
    QueueEntry? Get(string id);
    Stream OpenMessage(string id);
    void RecordAttempt(string id, AttemptRecord attempt);
    void Complete(string id);
    bool Delete(string id);
    bool Hold(string id);
    bool Release(string id);
    /// <summary>Queues a message we generated (a DSN); returns its queue ID once durable.</summary>
    ValueTask<string> EnqueueAsync(Envelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct);
}

internal sealed class SpoolQueue(MessageSpool spool) : IRelayQueue
{
    public event Action<string>? Committed
    {
        add => spool.Committed += value;
        remove => spool.Committed -= value;
    }

    public string Directory => spool.Directory;
    public IReadOnlyList<QueueEntry> List() => spool.List();
    public QueueEntry? Get(string id) => spool.Get(id);
    public Stream OpenMessage(string id) => spool.OpenMessage(id);
    public void RecordAttempt(string id, AttemptRecord attempt) => spool.RecordAttempt(id, attempt);
    public void Complete(string id) => spool.Complete(id);
    public bool Delete(string id) => spool.Delete(id);
    public bool Hold(string id) => spool.Hold(id);
    public bool Release(string id) => spool.Release(id);

    public async ValueTask<string> EnqueueAsync(Envelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        var writer = spool.Create(envelope);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteAsync(message, ct).ConfigureAwait(false);
            await writer.CommitAsync(ct).ConfigureAwait(false);
            return writer.QueueId;
        }
    }
}
