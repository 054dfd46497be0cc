using System.Text;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests.Fakes;

/// <summary>An in-memory queue with the spool's bookkeeping rules (attempts merge into recipient states).</summary>
internal sealed class MemoryQueue : IRelayQueue
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (QueueEntry Entry, byte[] Bytes)> _messages = [];
    private int _next;

    public event Action<string>? Committed;
    public string Directory { get; init; } = Path.GetTempPath();
    public List<(string Id, AttemptRecord Attempt)> Attempts { get; } = [];
    public List<string> Completed { get; } = [];
    public List<(string Id, Envelope Envelope, byte[] Bytes)> Enqueued { get; } = [];

    public string Add(string sender, string[] recipients, string message = "Subject: test\r\n\r\nhello\r\n", DateTimeOffset? arrived = null,
        bool notify = true, DateTimeOffset? nextAttempt = null)
    {
        var id = Put(new Envelope
        {
            Sender = sender,
            Recipients = recipients,
            ClientAddress = "127.0.0.1",
            Arrived = arrived ?? DateTimeOffset.UnixEpoch,
        }, Encoding.UTF8.GetBytes(message), nextAttempt);
        if (notify) Committed?.Invoke(id);
        return id;
    }

    private string Put(Envelope envelope, byte[] bytes, DateTimeOffset? nextAttempt = null)
    {
        lock (_gate)
        {
            var id = "M" + (++_next).ToString("D4");
            _messages[id] = (new QueueEntry
            {
                Id = id,
                Envelope = envelope,
                Size = bytes.Length,
                Recipients = envelope.Recipients.Select(r => new RecipientState(r, RecipientStatus.Pending, null)).ToList(),
                NextAttempt = nextAttempt,
            }, bytes);
            return id;
        }
    }

    public void Notify(string id) => Committed?.Invoke(id);

    public IReadOnlyList<QueueEntry> List() { lock (_gate) return _messages.Values.Select(m => m.Entry).ToList(); }
    public QueueEntry? Get(string id) { lock (_gate) return _messages.TryGetValue(id, out var m) ? m.Entry : null; }
    public bool Contains(string id) => Get(id) is not null;

    public Stream OpenMessage(string id)
    {
        lock (_gate)
            return _messages.TryGetValue(id, out var m) ? new MemoryStream(m.Bytes, writable: false) : throw new FileNotFoundException(id);
    }

    public void RecordAttempt(string id, AttemptRecord attempt)
    {
        lock (_gate)
        {
            Attempts.Add((id, attempt));
            var (entry, bytes) = _messages[id];
            var recipients = entry.Recipients.Select(r =>
                attempt.Recipients.FirstOrDefault(c => c.Address == r.Address) ?? r).ToList();
            _messages[id] = (attempt.Partial
                ? entry with { Recipients = recipients, DelayWarned = entry.DelayWarned || attempt.DelayWarned }
                : entry with
                {
                    Recipients = recipients,
                    Attempts = entry.Attempts + 1,
                    NextAttempt = attempt.NextAttempt,
                    LastError = attempt.Error ?? entry.LastError,
                    DelayWarned = entry.DelayWarned || attempt.DelayWarned,
                }, bytes);
        }
        AttemptRecorded?.Invoke(id, attempt);
    }

    /// <summary>Raised after an attempt is recorded (outside the lock).</summary>
    public event Action<string, AttemptRecord>? AttemptRecorded;

    public void Complete(string id) { lock (_gate) { _messages.Remove(id); Completed.Add(id); } }
    public bool Delete(string id) { lock (_gate) return _messages.Remove(id); }
    public bool Hold(string id) => SetHeld(id, true);
    public bool Release(string id) => SetHeld(id, false);

    private bool SetHeld(string id, bool held)
    {
        lock (_gate)
        {
            if (!_messages.TryGetValue(id, out var m)) return false;
            _messages[id] = (m.Entry with { Held = held }, m.Bytes);
            return true;
        }
    }

    public bool FailEnqueue { get; set; }

    public ValueTask<string> EnqueueAsync(Envelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        if (FailEnqueue) throw new SpoolException(SpoolError.InsufficientStorage, "disk full");
        var id = Put(envelope, message.ToArray());
        lock (_gate) Enqueued.Add((id, envelope, message.ToArray()));
        Committed?.Invoke(id);
        return ValueTask.FromResult(id);
    }
}
