namespace EdgeMail.Device.Local;

public enum SendmailMode
{
    /// <summary>-bm (the default): read a message from stdin and queue it.</summary>
    Deliver,
    /// <summary>-bp, or invoked as mailq: list the queue.</summary>
    ListQueue,
    /// <summary>-bs: an SMTP session on stdin/stdout.</summary>
    Smtp,
    /// <summary>-q: ask the daemon to retry the queue now.</summary>
    Flush,
}

/// <summary>
/// The sendmail command line as scripts use it (the flags Postfix and Sendmail share). Options may be
/// joined to their value ("-fme@x") or separate ("-f me@x"). Flags that only tune the real Sendmail
/// (-oem, -odi, -oXxx, -v, -N, -B, -R, -V, -L, -U, -G, -C) are accepted and ignored so that no script
/// breaks on them.
/// </summary>
public sealed class SendmailOptions
{
    public SendmailMode Mode { get; private set; } = SendmailMode.Deliver;
    /// <summary>-t: recipients from To/Cc/Bcc (added to any given as arguments, as Postfix does).</summary>
    public bool ExtractRecipients { get; private set; }
    /// <summary>-f / -r: the envelope sender; "" means the null sender &lt;&gt;. Null when not given.</summary>
    public string? Sender { get; private set; }
    /// <summary>-F: the full name for a From: header we add.</summary>
    public string? FullName { get; private set; }
    /// <summary>-i / -oi: a line with a single "." does not end the message.</summary>
    public bool IgnoreDots { get; private set; }
    public IReadOnlyList<string> Recipients => _recipients;
    /// <summary>--spool DIR and --config FILE, as the other edgemail verbs take them.</summary>
    public string? SpoolDirectory { get; private set; }
    public string? ConfigFile { get; private set; }

    /// <summary>Non-null when the command line is unusable; exit with <see cref="Sysexits.Usage"/>.</summary>
    public string? Error { get; private set; }

    private readonly List<string> _recipients = [];

    // Flags of the real Sendmail that take a value and that we ignore.
    private const string IgnoredWithValue = "NBRVLCX";
    // Flags without a value that we ignore.
    private const string IgnoredAlone = "vUGnm";

    /// <param name="args">The arguments after the program name.</param>
    /// <param name="invokedAs">argv[0]'s file name: "mailq" means -bp.</param>
    public static SendmailOptions Parse(IReadOnlyList<string> args, string? invokedAs = null)
    {
        var o = new SendmailOptions();
        if (invokedAs is not null && Path.GetFileName(invokedAs) == "mailq")
            o.Mode = SendmailMode.ListQueue;
        for (var i = 0; i < args.Count && o.Error is null; i++)
        {
            var a = args[i];
            if (a == "--")
            {
                o._recipients.AddRange(args.Skip(i + 1));
                break;
            }
            if (a is "--spool" or "--config")
            {
                if (i + 1 >= args.Count)
                    return o.Fail($"{a} needs a value");
                if (a == "--spool") o.SpoolDirectory = args[++i]; else o.ConfigFile = args[++i];
                continue;
            }
            if (a.Length < 2 || a[0] != '-')
            {
                o._recipients.Add(a);
                continue;
            }
            // getopt lets flags without a value share one dash: "-ti", "-it".
            if (a.AsSpan(1).TrimStart("ti").IsEmpty)
            {
                o.ExtractRecipients |= a.Contains('t');
                o.IgnoreDots |= a.Contains('i');
                continue;
            }
            var flag = a[1];
            var rest = a[2..];
            string? Value()
            {
                if (rest.Length > 0)
                    return rest;
                if (i + 1 < args.Count)
                    return args[++i];
                o.Fail($"-{flag} needs a value");
                return null;
            }
            switch (flag)
            {
                case 't' when rest.Length == 0:
                    o.ExtractRecipients = true;
                    break;
                case 'i' when rest.Length == 0:
                    o.IgnoreDots = true;
                    break;
                case 'f' or 'r':
                    if (Value() is { } sender)
                        o.Sender = sender is "<>" ? "" : sender.Trim().TrimStart('<').TrimEnd('>');
                    break;
                case 'F':
                    if (Value() is { } name)
                        o.FullName = name;
                    break;
                case 'o':
                    // -oi is the old spelling of -i; every other -oXvalue tunes Sendmail itself.
                    if (rest == "i")
                        o.IgnoreDots = true;
                    else if (rest.Length == 0)
                        return o.Fail("-o needs an option letter");
                    break;
                case 'b':
                    switch (rest)
                    {
                        case "m": o.Mode = SendmailMode.Deliver; break;
                        case "p": o.Mode = SendmailMode.ListQueue; break;
                        case "s": o.Mode = SendmailMode.Smtp; break;
                        default: return o.Fail($"unsupported mode -b{rest}");
                    }
                    break;
                case 'q':
                    // -q, -q15m (interval: ours is the relay's schedule), -qIid...: all mean "flush now" here.
                    o.Mode = SendmailMode.Flush;
                    break;
                default:
                    if (IgnoredWithValue.Contains(flag))
                        _ = Value();
                    else if (!IgnoredAlone.Contains(flag))
                        return o.Fail($"unknown option -{flag}");
                    break;
            }
        }
        if (o.Error is null && o.Mode == SendmailMode.Deliver && !o.ExtractRecipients && o._recipients.Count == 0)
            return o.Fail("no recipients given (name them, or use -t to read them from the message)");
        return o;
    }

    private SendmailOptions Fail(string error)
    {
        Error ??= error;
        return this;
    }
}
