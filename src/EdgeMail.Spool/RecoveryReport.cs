namespace EdgeMail.Spool;

/// <summary>What start-up recovery found (see <see cref="MessageSpool.Recovery"/>).</summary>
public sealed record RecoveryReport
{
    /// <summary>Valid messages found in queue/ and hold/.</summary>
    public int Recovered { get; init; }
    /// <summary>Half-written files removed from tmp/ (never acknowledged, so nothing is lost).</summary>
    public int TemporaryRemoved { get; init; }
    /// <summary>Unreadable files moved to corrupt/ (never deleted).</summary>
    public int MovedToCorrupt { get; init; }
    /// <summary>Side records whose message no longer exists, removed.</summary>
    public int OrphanStateRemoved { get; init; }
    /// <summary>Messages taken over from maildrop/.</summary>
    public int Imported { get; init; }
}
