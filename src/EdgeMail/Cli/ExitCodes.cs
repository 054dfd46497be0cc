namespace EdgeMail.Cli;

/// <summary>sysexits.h: what init systems, sendmail callers and scripts expect from a mail program.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>EX_USAGE: the command line is wrong.</summary>
    public const int Usage = 64;
    /// <summary>EX_NOINPUT: an input file or folder does not exist (no spool to list).</summary>
    public const int NoInput = 66;
    /// <summary>EX_SOFTWARE: a bug (an exception nobody expected).</summary>
    public const int Software = 70;
    /// <summary>EX_OSERR: the system refused something (bind failed, port in use).</summary>
    public const int OsError = 71;
    /// <summary>EX_CANTCREAT: an output file or folder cannot be created (the spool).</summary>
    public const int CantCreate = 73;
    /// <summary>EX_IOERR: an input/output error on an existing file.</summary>
    public const int IoError = 74;
    /// <summary>EX_CONFIG: the config file is wrong.</summary>
    public const int Config = 78;
}
