using System.Text;
using EdgeMail.Smtp.Replies;
using EdgeMail.Spool;

namespace EdgeMail.Smtp.Server;

public enum SmtpVerb : byte
{
    Unknown,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Help,
    Vrfy,
    Expn,
    StartTls,
    Auth,
    /// <summary>TURN, SEND, SOML, SAML, VERB: recognised only to refuse them (RFC 5321 Appendix F).</summary>
    Obsolete,
}

/// <summary>The MAIL FROM parameters we understand (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).</summary>
internal struct MailParameters
{
    public long? Size;
    public BodyType Body;
    public bool SmtpUtf8;
}

/// <summary>
/// Command parsing straight from the received bytes. Only values the session keeps (addresses, the HELO name)
/// become strings; verbs and keywords are compared as ASCII, case-insensitively (RFC 5321 §2.4).
/// </summary>
internal static class SmtpCommandParser
{
    public static SmtpVerb ParseVerb(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> argument)
    {
        int space = line.IndexOf((byte)' ');
        ReadOnlySpan<byte> word = space < 0 ? line : line[..space];
        argument = space < 0 ? default : line[(space + 1)..];
        if (word.Length != 4 && word.Length != 8)
            return SmtpVerb.Unknown;
        return word switch
        {
            _ when Is(word, "HELO"u8) => SmtpVerb.Helo,
            _ when Is(word, "EHLO"u8) => SmtpVerb.Ehlo,
            _ when Is(word, "MAIL"u8) => SmtpVerb.Mail,
            _ when Is(word, "RCPT"u8) => SmtpVerb.Rcpt,
            _ when Is(word, "DATA"u8) => SmtpVerb.Data,
            _ when Is(word, "BDAT"u8) => SmtpVerb.Bdat,
            _ when Is(word, "RSET"u8) => SmtpVerb.Rset,
            _ when Is(word, "NOOP"u8) => SmtpVerb.Noop,
            _ when Is(word, "QUIT"u8) => SmtpVerb.Quit,
            _ when Is(word, "HELP"u8) => SmtpVerb.Help,
            _ when Is(word, "VRFY"u8) => SmtpVerb.Vrfy,
            _ when Is(word, "EXPN"u8) => SmtpVerb.Expn,
            _ when Is(word, "AUTH"u8) => SmtpVerb.Auth,
            _ when Is(word, "STARTTLS"u8) => SmtpVerb.StartTls,
            _ when Is(word, "TURN"u8) || Is(word, "SEND"u8) || Is(word, "SOML"u8) || Is(word, "SAML"u8) || Is(word, "VERB"u8) => SmtpVerb.Obsolete,
            _ => SmtpVerb.Unknown,
        };
    }

    public static bool Is(ReadOnlySpan<byte> value, ReadOnlySpan<byte> upperAscii)
    {
        if (value.Length != upperAscii.Length)
            return false;
        for (int i = 0; i < value.Length; i++)
        {
            byte b = value[i];
            if (b >= (byte)'a' && b <= (byte)'z')
                b -= 0x20;
            if (b != upperAscii[i])
                return false;
        }
        return true;
    }

    public static bool StartsWith(ReadOnlySpan<byte> value, ReadOnlySpan<byte> upperAscii)
        => value.Length >= upperAscii.Length && Is(value[..upperAscii.Length], upperAscii);

    /// <summary>NUL and other controls are never valid in a command line (RFC 5321 §4.1.1: printable ASCII and SP).</summary>
    public static bool HasControl(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
        {
            if (b < 0x20 && b != (byte)'\t' || b == 0x7F)
                return true;
        }
        return false;
    }

    public static bool HasEightBit(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
        {
            if (b >= 0x80)
                return true;
        }
        return false;
    }

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && (s[a] == (byte)' ' || s[a] == (byte)'\t')) a++;
        while (b > a && (s[b - 1] == (byte)' ' || s[b - 1] == (byte)'\t')) b--;
        return s[a..b];
    }

    /// <summary>HELO/EHLO argument: a domain or address literal (RFC 5321 §4.1.1.1). We do not judge the name,
    /// only that there is one token of sane length; it ends up in our Received: header.</summary>
    public static SmtpReplyKind ParseHelo(ReadOnlySpan<byte> argument, out string name)
    {
        name = "";
        var arg = Trim(argument);
        if (arg.IsEmpty || arg.Length > 255 || arg.IndexOfAny((byte)' ', (byte)'\t') >= 0)
            return SmtpReplyKind.HeloSyntax;
        if (HasEightBit(arg))
            return SmtpReplyKind.NonAsciiWithoutSmtpUtf8;
        name = Encoding.ASCII.GetString(arg);
        return SmtpReplyKind.Ok;
    }

    /// <summary>"FROM:&lt;path&gt; params" (RFC 5321 §4.1.1.2), the null sender "&lt;&gt;", and the old telnet form
    /// "FROM: user@domain" without brackets that appliances still send.</summary>
    public static SmtpReplyKind ParseMail(ReadOnlySpan<byte> argument, out string sender, out MailParameters parameters)
    {
        sender = "";
        parameters = default;
        if (!StartsWith(argument, "FROM:"u8))
            return SmtpReplyKind.MailSyntax;
        var rest = Trim(argument[5..]);
        var kind = SplitPath(rest, out var path, out var parameterText, allowNull: true);
        if (kind != SplitResult.Ok)
            return kind == SplitResult.Empty ? SmtpReplyKind.MailSyntax : SmtpReplyKind.BadSenderAddress;
        var pk = ParseMailParameters(parameterText, ref parameters);
        if (pk != SmtpReplyKind.Ok)
            return pk;
        if (!parameters.SmtpUtf8 && HasEightBit(argument))
            return SmtpReplyKind.NonAsciiWithoutSmtpUtf8;
        if (!path.IsEmpty && !IsMailbox(path, requireDomain: true) || !System.Text.Unicode.Utf8.IsValid(path))
            return SmtpReplyKind.BadSenderAddress;
        sender = Encoding.UTF8.GetString(path);
        return SmtpReplyKind.SenderOk;
    }

    public static SmtpReplyKind ParseRcpt(ReadOnlySpan<byte> argument, bool smtpUtf8, out string recipient)
    {
        recipient = "";
        if (!StartsWith(argument, "TO:"u8))
            return SmtpReplyKind.RcptSyntax;
        var rest = Trim(argument[3..]);
        var kind = SplitPath(rest, out var path, out var parameterText, allowNull: false);
        if (kind != SplitResult.Ok)
            return kind == SplitResult.Empty ? SmtpReplyKind.RcptSyntax : SmtpReplyKind.BadRecipientAddress;
        // We advertise no RCPT extensions (DSN NOTIFY/ORCPT would be RFC 3461): any parameter is unknown.
        if (!Trim(parameterText).IsEmpty)
            return SmtpReplyKind.UnknownParameter;
        if (!smtpUtf8 && HasEightBit(argument))
            return SmtpReplyKind.NonAsciiWithoutSmtpUtf8;
        // RFC 5321 §4.5.1: "postmaster" without a domain must be accepted.
        bool postmaster = Is(path, "POSTMASTER"u8);
        if (!postmaster && !IsMailbox(path, requireDomain: true) || !System.Text.Unicode.Utf8.IsValid(path))
            return SmtpReplyKind.BadRecipientAddress;
        recipient = Encoding.UTF8.GetString(path);
        return SmtpReplyKind.RecipientOk;
    }

    private enum SplitResult { Ok, Empty, Bad }

    private static SplitResult SplitPath(ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> path, out ReadOnlySpan<byte> parameters, bool allowNull)
    {
        path = default;
        parameters = default;
        if (rest.IsEmpty)
            return SplitResult.Empty;
        if (rest[0] == (byte)'<')
        {
            int close = IndexOfClosingBracket(rest);
            if (close < 0)
                return SplitResult.Bad;
            path = rest[1..close];
            parameters = rest[(close + 1)..];
            if (!parameters.IsEmpty && parameters[0] != (byte)' ')
                return SplitResult.Bad;
            // RFC 5321 §4.1.2/Appendix C: a source route "@a,@b:" is accepted and ignored.
            if (!path.IsEmpty && path[0] == (byte)'@')
            {
                int colon = path.IndexOf((byte)':');
                if (colon < 0)
                    return SplitResult.Bad;
                path = path[(colon + 1)..];
            }
            if (path.IsEmpty && !allowNull)
                return SplitResult.Bad;
        }
        else
        {
            // Telnet form: the address is the first token.
            int space = rest.IndexOf((byte)' ');
            path = space < 0 ? rest : rest[..space];
            parameters = space < 0 ? default : rest[space..];
            if (path.IndexOfAny((byte)'<', (byte)'>') >= 0)
                return SplitResult.Bad;
        }
        if (path.Length > 254)
            return SplitResult.Bad;
        return SplitResult.Ok;
    }

    private static int IndexOfClosingBracket(ReadOnlySpan<byte> s)
    {
        bool quoted = false;
        for (int i = 1; i < s.Length; i++)
        {
            byte b = s[i];
            if (quoted)
            {
                if (b == (byte)'\\') i++;
                else if (b == (byte)'"') quoted = false;
            }
            else if (b == (byte)'"') quoted = true;
            else if (b == (byte)'>') return i;
            else if (b == (byte)'<') return -1;
        }
        return -1;
    }

    /// <summary>local-part "@" domain (RFC 5321 §4.1.2), checked loosely: the relay and the far end judge the rest.</summary>
    internal static bool IsMailbox(ReadOnlySpan<byte> path, bool requireDomain)
    {
        int at = path.LastIndexOf((byte)'@');
        if (at < 0)
            return !requireDomain && !path.IsEmpty;
        var local = path[..at];
        var domain = path[(at + 1)..];
        if (local.IsEmpty || local.Length > 64 || domain.IsEmpty || domain.Length > 255)
            return false;
        bool quoted = local[0] == (byte)'"';
        if (quoted)
        {
            if (local.Length < 2 || local[^1] != (byte)'"')
                return false;
            // RFC 5321 §4.1.2: qtextSMTP and quoted-pairSMTP are %d32-126 only; a TAB (the one control the line
            // check lets through) would otherwise reach the envelope and our Received: header. Found by fuzzing.
            if (local.IndexOfAnyExceptInRange((byte)0x20, (byte)0xFF) >= 0)
                return false;
        }
        else
        {
            foreach (byte b in local)
            {
                if (b <= (byte)' ' || b == (byte)'<' || b == (byte)'>' || b == (byte)'(' || b == (byte)')' || b == (byte)',' ||
                    b == (byte)';' || b == (byte)':' || b == (byte)'\\' || b == (byte)'"' || b == (byte)'[' || b == (byte)']' || b == (byte)'@')
                    return false;
            }
            if (local[0] == (byte)'.' || local[^1] == (byte)'.' || local.IndexOf(".."u8) >= 0)
                return false;
        }
        if (domain[0] == (byte)'[')
            // RFC 5321 §4.1.3: an address literal is printable ASCII without spaces.
            return domain[^1] == (byte)']' && domain.Length > 2 && domain.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) < 0;
        foreach (byte b in domain)
        {
            bool ok = b >= 0x80 || (b >= (byte)'a' && b <= (byte)'z') || (b >= (byte)'A' && b <= (byte)'Z') ||
                      (b >= (byte)'0' && b <= (byte)'9') || b == (byte)'-' || b == (byte)'.' || b == (byte)'_';
            if (!ok)
                return false;
        }
        return domain[0] != (byte)'.' && domain[^1] != (byte)'.' && domain.IndexOf(".."u8) < 0;
    }

    private static SmtpReplyKind ParseMailParameters(ReadOnlySpan<byte> text, ref MailParameters p)
    {
        bool seenSize = false, seenBody = false;
        while (true)
        {
            text = Trim(text);
            if (text.IsEmpty)
                return SmtpReplyKind.Ok;
            int space = text.IndexOf((byte)' ');
            var token = space < 0 ? text : text[..space];
            text = space < 0 ? default : text[space..];
            int eq = token.IndexOf((byte)'=');
            var key = eq < 0 ? token : token[..eq];
            var value = eq < 0 ? default : token[(eq + 1)..];
            bool hasValue = eq >= 0;
            if (Is(key, "SIZE"u8))
            {
                if (seenSize || !hasValue || !TryParseSize(value, out long size))
                    return SmtpReplyKind.BadParameterValue;
                seenSize = true;
                p.Size = size;
            }
            else if (Is(key, "BODY"u8))
            {
                if (seenBody || !hasValue)
                    return SmtpReplyKind.BadParameterValue;
                seenBody = true;
                if (Is(value, "7BIT"u8)) p.Body = BodyType.SevenBit;
                else if (Is(value, "8BITMIME"u8)) p.Body = BodyType.EightBitMime;
                else return SmtpReplyKind.BadParameterValue;
            }
            else if (Is(key, "SMTPUTF8"u8))
            {
                if (hasValue || p.SmtpUtf8)
                    return SmtpReplyKind.BadParameterValue;
                p.SmtpUtf8 = true;
            }
            else
            {
                return SmtpReplyKind.UnknownParameter;
            }
        }
    }

    /// <summary>RFC 3030 §2: "BDAT" SP chunk-size [SP "LAST"].</summary>
    public static bool ParseBdat(ReadOnlySpan<byte> argument, out long size, out bool last)
    {
        last = false;
        size = 0;
        int space = argument.IndexOf((byte)' ');
        var number = space < 0 ? argument : argument[..space];
        if (space >= 0)
        {
            if (!Is(argument[(space + 1)..], "LAST"u8))
                return false;
            last = true;
        }
        return number.Length <= 18 && TryParseSize(number, out size);
    }

    /// <summary>RFC 1870: size-value ::= 1*20DIGIT; anything beyond long.MaxValue is certainly too big.</summary>
    private static bool TryParseSize(ReadOnlySpan<byte> value, out long size)
    {
        size = 0;
        if (value.IsEmpty || value.Length > 20)
            return false;
        foreach (byte b in value)
        {
            if (b < (byte)'0' || b > (byte)'9')
                return false;
            size = size > (long.MaxValue - 9) / 10 ? long.MaxValue : size * 10 + (b - '0');
        }
        return true;
    }
}
