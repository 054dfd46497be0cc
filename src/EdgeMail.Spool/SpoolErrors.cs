namespace EdgeMail.Spool;

/// <summary>Maps file-system failures to the two outcomes SMTP can report (452 vs 451).</summary>
internal static class SpoolErrors
{
    // Linux errno values; identical on x86-64 and aarch64. The BCL puts the raw errno into
    // IOException.HResult on Unix.
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    internal static bool IsOutOfSpace(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is SpoolException { Error: SpoolError.InsufficientStorage })
                return true;
            if (x is IOException && (x.HResult is ENOSPC or EDQUOT
                || x.HResult == unchecked((int)0x80070070) /* ERROR_DISK_FULL */
                || x.HResult == unchecked((int)0x80070027) /* ERROR_HANDLE_DISK_FULL */))
                return true;
        }
        return false;
    }

    internal static SpoolException Wrap(Exception e, string what)
    {
        if (e is SpoolException se)
            return se;
        return IsOutOfSpace(e)
            ? new SpoolException(SpoolError.InsufficientStorage, $"{what}: no space left", e)
            : new SpoolException(SpoolError.IoError, $"{what}: {e.Message}", e);
    }
}
