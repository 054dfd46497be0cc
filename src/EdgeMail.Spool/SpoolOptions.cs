namespace EdgeMail.Spool;

public sealed class SpoolOptions
{
    /// <summary>The spool's root folder; created (owner-only) if missing.</summary>
    public required string Directory { get; init; }
    /// <summary>Largest total size of queued message files in bytes; 0 = no limit.</summary>
    public long MaxSpoolBytes { get; init; } = 1L << 30;
    /// <summary>Free space the file system must keep after a message is written.</summary>
    public long MinFreeBytes { get; init; } = 64L << 20;
    /// <summary>Whether commit really fsyncs. Always true in production; never false in tests of durability.</summary>
    public bool Fsync { get; init; } = true;
}
