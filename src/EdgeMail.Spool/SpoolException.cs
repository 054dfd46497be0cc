namespace EdgeMail.Spool;

public enum SpoolError
{
    /// <summary>The message does not fit: spool size limit or minimum free space reached, or ENOSPC.
    /// SMTP answers 452 4.3.1.</summary>
    InsufficientStorage,
    /// <summary>Any other failure on the write/commit path (write, fsync, rename, directory fsync).
    /// SMTP answers 451 4.3.0.</summary>
    IoError,
}

/// <summary>The one exception type the spool throws on its write and commit path.</summary>
public sealed class SpoolException : Exception
{
    public SpoolException(SpoolError error, string message, Exception? inner = null) : base(message, inner)
        => Error = error;

    public SpoolError Error { get; }
}
