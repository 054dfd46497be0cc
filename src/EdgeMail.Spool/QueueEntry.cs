namespace EdgeMail.Spool;

public enum RecipientStatus : byte
{
    /// <summary>Not yet delivered: new or deferred.</summary>
    Pending = 0,
    Delivered = 1,
    /// <summary>Permanently failed (5xx or expired); a bounce has been or will be generated.</summary>
    Failed = 2,
}

public sealed record RecipientState(string Address, RecipientStatus Status, string? LastReply);

/// <summary>What the queue knows about one committed message (header plus side records).</summary>
public sealed record QueueEntry
{
    public required string Id { get; init; }
    public required Envelope Envelope { get; init; }
    /// <summary>Size of the message bytes (after our Received: header was prepended).</summary>
    public required long Size { get; init; }
    public required IReadOnlyList<RecipientState> Recipients { get; init; }
    public int Attempts { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset? NextAttempt { get; init; }
    public bool Held { get; init; }
    /// <summary>The sender has been sent the one "delayed" notice (kept in the side record, so a restart does not send another).</summary>
    public bool DelayWarned { get; init; }
}

/// <summary>The outcome of one delivery attempt, appended to the message's side record.</summary>
public sealed record AttemptRecord
{
    public required DateTimeOffset When { get; init; }
    /// <summary>Recipients whose status this attempt changed (Delivered/Failed), or that were deferred (Pending).</summary>
    public required IReadOnlyList<RecipientState> Recipients { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset? NextAttempt { get; init; }
    /// <summary>Written while other routes of the same round are still being tried: it only makes the named
    /// recipients' final outcomes durable and is not an attempt of its own (the attempt count, the last error
    /// and the next attempt time stay as they were).</summary>
    public bool Partial { get; init; }
    /// <summary>The "delayed" notice (RFC 3464 Action: delayed) for this message has been queued.</summary>
    public bool DelayWarned { get; init; }
}
