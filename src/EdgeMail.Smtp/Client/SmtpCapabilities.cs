using System.Text;

namespace EdgeMail.Smtp.Client;

[Flags]
public enum SmtpExtensions
{
    None = 0,
    Pipelining = 1 << 0,      // RFC 2920
    Size = 1 << 1,            // RFC 1870
    EightBitMime = 1 << 2,    // RFC 6152
    SmtpUtf8 = 1 << 3,        // RFC 6531
    StartTls = 1 << 4,        // RFC 3207
    Auth = 1 << 5,            // RFC 4954
    EnhancedStatusCodes = 1 << 6, // RFC 2034
    Dsn = 1 << 7,             // RFC 3461
    Chunking = 1 << 8,        // RFC 3030
    BinaryMime = 1 << 9,      // RFC 3030
}

[Flags]
public enum SaslMechanisms
{
    None = 0,
    Plain = 1 << 0,    // RFC 4616
    Login = 1 << 1,    // draft-murchison-sasl-login
    CramMd5 = 1 << 2,  // RFC 2195
    XOAuth2 = 1 << 3,  // Google / Microsoft
}

/// <summary>What the server announced in its EHLO reply (all empty after a HELO fallback).</summary>
public sealed class SmtpCapabilities
{
    public static SmtpCapabilities Empty { get; } = new();

    public SmtpExtensions Extensions { get; private set; }

    /// <summary>The SIZE limit in octets; null when not announced or announced as 0 (no fixed limit, RFC 1870 §4).</summary>
    public long? MaxSize { get; private set; }

    public SaslMechanisms AuthMechanisms { get; private set; }

    public bool Has(SmtpExtensions extension) => (Extensions & extension) == extension;

    public override string ToString() =>
        $"{Extensions}{(MaxSize is { } s ? $" SIZE={s}" : "")}{(AuthMechanisms != 0 ? $" AUTH={AuthMechanisms}" : "")}";

    /// <summary>Parses the EHLO reply lines after the first (RFC 5321 §4.1.1.1: ehlo-line = keyword *(SP param)),
    /// each given as its text without code and CRLF. Keywords are case-insensitive; unknown ones are ignored.</summary>
    internal static SmtpCapabilities FromEhloLines(IEnumerable<byte[]> lines)
    {
        var caps = new SmtpCapabilities();
        foreach (var line in lines)
            caps.Apply(line);
        return caps;
    }

    internal void Apply(ReadOnlySpan<byte> line)
    {
        line = line.Trim((byte)' ');
        int sp = line.IndexOfAny((byte)' ', (byte)'=');   // "AUTH=PLAIN LOGIN": the pre-RFC 4954 form some servers still send
        var keyword = sp < 0 ? line : line[..sp];
        var rest = sp < 0 ? ReadOnlySpan<byte>.Empty : line[(sp + 1)..];

        if (Is(keyword, "PIPELINING")) Extensions |= SmtpExtensions.Pipelining;
        else if (Is(keyword, "8BITMIME")) Extensions |= SmtpExtensions.EightBitMime;
        else if (Is(keyword, "SMTPUTF8")) Extensions |= SmtpExtensions.SmtpUtf8;
        else if (Is(keyword, "STARTTLS")) Extensions |= SmtpExtensions.StartTls;
        else if (Is(keyword, "ENHANCEDSTATUSCODES")) Extensions |= SmtpExtensions.EnhancedStatusCodes;
        else if (Is(keyword, "DSN")) Extensions |= SmtpExtensions.Dsn;
        else if (Is(keyword, "CHUNKING")) Extensions |= SmtpExtensions.Chunking;
        else if (Is(keyword, "BINARYMIME")) Extensions |= SmtpExtensions.BinaryMime;
        else if (Is(keyword, "SIZE"))
        {
            Extensions |= SmtpExtensions.Size;
            if (System.Buffers.Text.Utf8Parser.TryParse(rest.Trim((byte)' '), out long size, out int used) && used == rest.Trim((byte)' ').Length && size > 0)
                MaxSize = size;
        }
        else if (Is(keyword, "AUTH"))
        {
            Extensions |= SmtpExtensions.Auth;
            foreach (var range in rest.Split((byte)' '))
            {
                var mech = rest[range];
                if (Is(mech, "PLAIN")) AuthMechanisms |= SaslMechanisms.Plain;
                else if (Is(mech, "LOGIN")) AuthMechanisms |= SaslMechanisms.Login;
                else if (Is(mech, "CRAM-MD5")) AuthMechanisms |= SaslMechanisms.CramMd5;
                else if (Is(mech, "XOAUTH2")) AuthMechanisms |= SaslMechanisms.XOAuth2;
            }
        }
    }

    private static bool Is(ReadOnlySpan<byte> token, string keyword) =>
        Ascii.EqualsIgnoreCase(token, keyword);
}
