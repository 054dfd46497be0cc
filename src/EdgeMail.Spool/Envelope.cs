namespace EdgeMail.Spool;

/// <summary>How the message body was declared at MAIL FROM (RFC 6152).</summary>
public enum BodyType : byte
{
    SevenBit = 0,
    EightBitMime = 1,
}

/// <summary>
/// The SMTP envelope of one message as it is written into the queue file's header.
/// Addresses are kept exactly as the client sent them (without angle brackets);
/// the null reverse-path is the empty string.
/// </summary>
public sealed class Envelope
{
    public required string Sender { get; init; }
    public required IReadOnlyList<string> Recipients { get; init; }
    /// <summary>Client IP address as text, e.g. "127.0.0.1" or "::1"; "local" for sendmail/alerts.</summary>
    public required string ClientAddress { get; init; }
    /// <summary>What the client said in HELO/EHLO ("" when it never did).</summary>
    public string Helo { get; init; } = "";
    /// <summary>SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, or LOCAL (RFC 3848 names).</summary>
    public string Protocol { get; init; } = "ESMTP";
    public BodyType Body { get; init; } = BodyType.SevenBit;
    public bool SmtpUtf8 { get; init; }
    /// <summary>The user that authenticated with AUTH, if any.</summary>
    public string? AuthenticatedUser { get; init; }
    public DateTimeOffset Arrived { get; init; } = DateTimeOffset.UtcNow;
}
