namespace EdgeMail.Device.Local;

/// <summary>Exit codes from BSD sysexits.h, which scripts and cron expect from sendmail.</summary>
public static class Sysexits
{
    public const int Ok = 0;
    public const int Usage = 64;       // EX_USAGE: bad flags, no recipients
    public const int DataErr = 65;     // EX_DATAERR: the message itself is unusable (too large, not text)
    public const int NoUser = 67;      // EX_NOUSER: a recipient address is not an address
    public const int Software = 70;    // EX_SOFTWARE
    public const int IoErr = 74;       // EX_IOERR: reading stdin failed
    public const int TempFail = 75;    // EX_TEMPFAIL: the spool cannot take it now; try again later
    public const int Config = 78;      // EX_CONFIG: configuration missing or wrong
}
