namespace EdgeMail.Smtp.Client;

/// <summary>How the connection to an upstream is protected; one value per relay URL scheme.</summary>
public enum TlsMode
{
    /// <summary>Plain text, STARTTLS never attempted.</summary>
    None,
    /// <summary><c>smtp://</c>: STARTTLS when the server offers it, plain text otherwise (RFC 7435).</summary>
    Opportunistic,
    /// <summary><c>smtp+starttls://</c>: STARTTLS or no delivery (RFC 3207).</summary>
    StartTlsRequired,
    /// <summary><c>smtps://</c>: TLS from the first byte (RFC 8314 §3.3).</summary>
    Implicit,
}
