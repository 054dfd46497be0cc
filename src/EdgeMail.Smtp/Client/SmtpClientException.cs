namespace EdgeMail.Smtp.Client;

public enum SmtpFailureKind
{
    Connect,
    Tls,
    CertificateVerification,
    Protocol,
    Timeout,
    AuthFailed,
    /// <summary>421 anywhere, or a 4xx to the greeting or EHLO/HELO.</summary>
    ServerUnavailable,
    /// <summary>A 5xx to the greeting or EHLO/HELO: this host will not take mail from us.</summary>
    Rejected,
}

/// <summary>The session cannot go on: the route (this host) is deferred or failed over as a whole.
/// Per-recipient and per-message outcomes are never exceptions; they are in <see cref="SmtpDeliveryResult"/>.</summary>
public sealed class SmtpClientException : Exception
{
    public SmtpClientException(SmtpFailureKind kind, string host, string message, SmtpReply? reply = null, Exception? inner = null)
        : base($"upstream {host}: {message}", inner)
    {
        Kind = kind;
        Host = host;
        Reply = reply;
    }

    public SmtpFailureKind Kind { get; }
    public SmtpReply? Reply { get; }
    public string Host { get; }
}
