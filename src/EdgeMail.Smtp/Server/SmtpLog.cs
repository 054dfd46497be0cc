using Microsoft.Extensions.Logging;

namespace EdgeMail.Smtp.Server;

/// <summary>One line per event; never message bodies.</summary>
internal static partial class SmtpLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "connect from {Client}")]
    public static partial void Connect(ILogger logger, string client);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "accepted {Id} from {Client}: sender=<{Sender}> recipients={Recipients} size={Size}")]
    public static partial void Accepted(ILogger logger, string id, string client, string sender, string recipients, long size);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "rejected message from {Client}: sender=<{Sender}> reason={Reason}")]
    public static partial void Rejected(ILogger logger, string client, string sender, string reason);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "refused recipient from {Client}: sender=<{Sender}> recipient=<{Recipient}> reason={Reason}")]
    public static partial void RecipientRefused(ILogger logger, string client, string sender, string recipient, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "disconnect from {Client} ({Reason})")]
    public static partial void Disconnect(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "refused connection from {Client}: {Reason}")]
    public static partial void Refused(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "spool failure for message from {Client}: {Error}")]
    public static partial void SpoolFailure(ILogger logger, string client, string error);

    [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "session with {Client} failed: {Type}: {Error}")]
    public static partial void SessionFailed(ILogger logger, string client, string type, string error);

    [LoggerMessage(EventId = 109, Level = LogLevel.Information, Message = "TLS with {Client}: {Protocol} {CipherSuite}")]
    public static partial void TlsStarted(ILogger logger, string client, string protocol, string cipherSuite);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "TLS handshake with {Client} failed: {Type}: {Error}")]
    public static partial void TlsFailed(ILogger logger, string client, string type, string error);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "discarded {Count} plaintext bytes {Client} pipelined after STARTTLS")]
    public static partial void PlaintextDiscarded(ILogger logger, string client, int count);

    [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "authenticated {Client} as {User} ({Mechanism})")]
    public static partial void AuthSucceeded(ILogger logger, string client, string user, string mechanism);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "authentication failed for {Client}: user={User} ({Mechanism})")]
    public static partial void AuthFailed(ILogger logger, string client, string user, string mechanism);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);
}
