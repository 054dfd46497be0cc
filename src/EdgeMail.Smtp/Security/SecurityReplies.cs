namespace EdgeMail.Smtp.Security;

/// <summary>One SMTP reply: basic code (RFC 5321 §4.2), enhanced status (RFC 3463) and text.</summary>
public readonly record struct SecurityReply(int Code, string Enhanced, string Text)
{
    public override string ToString() => $"{Code} {Enhanced} {Text}";
}

/// <summary>
/// Every reply the security components decide on, in one table. The session writes these
/// verbatim; when the session's own reply table lands these rows move into it unchanged.
/// </summary>
public static class SecurityReplies
{
    // RFC 3207 §4: the server answers 220 and the client starts the handshake.
    public static readonly SecurityReply ReadyToStartTls = new(220, "2.0.0", "Ready to start TLS");
    // RFC 3207 §4: TLS is temporarily unavailable.
    public static readonly SecurityReply TlsNotAvailable = new(454, "4.7.0", "TLS not available due to temporary reason");
    // RFC 3207 §4 / RFC 4954 §6: policy requires TLS before this command.
    public static readonly SecurityReply EncryptionRequired = new(530, "5.7.0", "Must issue a STARTTLS command first");

    // RFC 4954 §6 reply codes.
    public static readonly SecurityReply AuthSucceeded = new(235, "2.7.0", "Authentication successful");
    public static readonly SecurityReply AuthCancelled = new(501, "5.7.0", "Authentication cancelled");
    public static readonly SecurityReply AuthMalformed = new(501, "5.5.2", "Cannot decode response");
    public static readonly SecurityReply AuthLineTooLong = new(500, "5.5.6", "Authentication exchange line is too long");
    public static readonly SecurityReply AuthMechanismUnknown = new(504, "5.5.4", "Unrecognized authentication type");
    public static readonly SecurityReply AuthInvalid = new(535, "5.7.8", "Authentication credentials invalid");
    public static readonly SecurityReply AuthTemporaryFailure = new(454, "4.7.0", "Temporary authentication failure");
    public static readonly SecurityReply AuthTooManyFailures = new(421, "4.7.0", "Too many authentication failures, closing connection");

    // Relay policy (RFC 5321 §3.6.2 says a relay must not be open; 5.7.1 = delivery not authorized).
    public static readonly SecurityReply RelayDenied = new(554, "5.7.1", "Relay access denied");
    public static readonly SecurityReply SenderNotAllowed = new(550, "5.7.1", "Sender address not allowed");
    public static readonly SecurityReply RecipientNotAllowed = new(550, "5.7.1", "Recipient domain not allowed");

    // Rate limits (RFC 3463 4.7.x: temporary policy refusal; the client retries later).
    public static readonly SecurityReply MessageRateExceeded = new(450, "4.7.1", "Message rate limit exceeded, try again later");
    public static readonly SecurityReply TooManyConnections = new(421, "4.7.0", "Too many connections from your address, try again later");
}
