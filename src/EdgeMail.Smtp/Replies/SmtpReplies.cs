using System.Text;

namespace EdgeMail.Smtp.Replies;

/// <summary>Every reply the server can give. Handlers name a kind; the text lives only in <see cref="SmtpReplies"/>.</summary>
public enum SmtpReplyKind : byte
{
    Greeting,
    Closing,
    ShuttingDown,
    TooManyConnections,
    TooManyErrors,
    Timeout,
    Ok,
    Helo,
    Ehlo,
    SenderOk,
    RecipientOk,
    StartMailInput,
    Queued,
    CannotVerify,
    Help,
    HelpHelo,
    HelpEhlo,
    HelpMail,
    HelpRcpt,
    HelpData,
    HelpRset,
    HelpNoop,
    HelpQuit,
    HelpVrfy,
    HelpUnknownTopic,
    ExpnRefused,
    Obsolete,
    NotImplemented,
    UnknownCommand,
    LineTooLong,
    InvalidCharacter,
    NonAsciiWithoutSmtpUtf8,
    HeloSyntax,
    MailSyntax,
    RcptSyntax,
    NoParametersAllowed,
    VrfySyntax,
    BadSenderAddress,
    BadRecipientAddress,
    BadParameterValue,
    UnknownParameter,
    MessageTooBig,
    InsufficientStorage,
    LocalError,
    TooManyRecipients,
    NeedHelo,
    NestedMail,
    NeedMail,
    NeedRecipient,
    BareLineEnding,
    ChunkReceived,
    BdatSyntax,
    OnlyBdatMayFollow,
    // Security: STARTTLS (RFC 3207), AUTH (RFC 4954), relay policy and rate limits.
    ReadyToStartTls,
    TlsNotAvailable,
    TlsAlreadyActive,
    EncryptionRequired,
    AuthChallenge,
    AuthSucceeded,
    AuthCancelled,
    AuthMalformed,
    AuthLineTooLong,
    AuthMechanismUnknown,
    AuthInvalid,
    AuthTemporaryFailure,
    AuthTooManyFailures,
    AlreadyAuthenticated,
    AuthDuringTransaction,
    RelayDenied,
    SenderNotAllowed,
    RecipientNotAllowed,
    MessageRateExceeded,
    TooManyConnectionsFromAddress,
}

/// <summary>One row of the reply table: basic code (RFC 5321 §4.2), enhanced status code (RFC 3463) and text.
/// A '%' in the text is replaced by the one argument the session supplies (host name, queue ID, size).</summary>
public sealed class SmtpReply
{
    internal SmtpReply(SmtpReplyKind kind, int code, string? enhanced, string text)
    {
        Kind = kind;
        Code = code;
        EnhancedCode = enhanced;
        Text = text;
        string prefix = enhanced is null ? "" : enhanced + " ";
        int mark = text.IndexOf('%');
        string before = mark < 0 ? text : text[..mark];
        string after = mark < 0 ? "" : text[(mark + 1)..];
        Head = Encoding.ASCII.GetBytes(prefix + before);
        Tail = Encoding.ASCII.GetBytes(after + "\r\n");
        CodeBytes = Encoding.ASCII.GetBytes(code.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public SmtpReplyKind Kind { get; }
    public int Code { get; }
    public string? EnhancedCode { get; }
    public string Text { get; }
    public bool IsError => Code >= 400;

    /// <summary>The reply line as sent, without CRLF (for tests and logs).</summary>
    public override string ToString() => EnhancedCode is null ? $"{Code} {Text}" : $"{Code} {EnhancedCode} {Text}";

    internal byte[] CodeBytes { get; }
    /// <summary>Enhanced code and the text before the argument (after "NNN" and the separator).</summary>
    internal byte[] Head { get; }
    /// <summary>The text after the argument, with the CRLF.</summary>
    internal byte[] Tail { get; }
}

/// <summary>
/// THE reply table. Enhanced status codes follow RFC 3463 (and RFC 5248's registry); RFC 2034 §3 leaves them off the
/// greeting and the EHLO/HELO replies, and we leave them off 354 as every MTA does, since the client does not act on it.
/// No reply ever echoes client input (no reflected text to smuggle into logs or terminals).
/// </summary>
public static class SmtpReplies
{
    private static readonly SmtpReply[] Table = Build(
    [
        new(SmtpReplyKind.Greeting, 220, null, "% ESMTP EdgeMail"),
        new(SmtpReplyKind.Closing, 221, "2.0.0", "Bye"),
        new(SmtpReplyKind.ShuttingDown, 421, "4.3.2", "Service shutting down, closing connection"),
        new(SmtpReplyKind.TooManyConnections, 421, "4.7.0", "Too many connections, try again later"),
        new(SmtpReplyKind.TooManyErrors, 421, "4.7.0", "Too many errors, closing connection"),
        new(SmtpReplyKind.Timeout, 421, "4.4.2", "Timeout exceeded, closing connection"),
        new(SmtpReplyKind.Ok, 250, "2.0.0", "Ok"),
        new(SmtpReplyKind.Helo, 250, null, "%"),
        new(SmtpReplyKind.Ehlo, 250, null, "%"),
        new(SmtpReplyKind.SenderOk, 250, "2.1.0", "Sender ok"),
        new(SmtpReplyKind.RecipientOk, 250, "2.1.5", "Recipient ok"),
        new(SmtpReplyKind.StartMailInput, 354, null, "End data with <CR><LF>.<CR><LF>"),
        new(SmtpReplyKind.Queued, 250, "2.0.0", "Ok: queued as %"),
        // RFC 5321 §3.5.3: 252 when we will not verify but will accept and attempt delivery.
        new(SmtpReplyKind.CannotVerify, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"),
        new(SmtpReplyKind.Help, 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY; HELP <command> for more"),
        new(SmtpReplyKind.HelpHelo, 214, "2.0.0", "HELO <domain>: identify yourself (plain SMTP)"),
        new(SmtpReplyKind.HelpEhlo, 214, "2.0.0", "EHLO <domain>: identify yourself and list the extensions"),
        new(SmtpReplyKind.HelpMail, 214, "2.0.0", "MAIL FROM:<address> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]: start a transaction"),
        new(SmtpReplyKind.HelpRcpt, 214, "2.0.0", "RCPT TO:<address>: add a recipient (repeat for more)"),
        new(SmtpReplyKind.HelpData, 214, "2.0.0", "DATA: send the message, end with a line holding only a dot"),
        new(SmtpReplyKind.HelpRset, 214, "2.0.0", "RSET: abort the current transaction"),
        new(SmtpReplyKind.HelpNoop, 214, "2.0.0", "NOOP: do nothing"),
        new(SmtpReplyKind.HelpQuit, 214, "2.0.0", "QUIT: close the connection"),
        new(SmtpReplyKind.HelpVrfy, 214, "2.0.0", "VRFY <address>: never verified here, answered 252"),
        new(SmtpReplyKind.HelpUnknownTopic, 504, "5.5.1", "No help on that topic"),
        // RFC 5321 §3.5.3/§7.3: lists are never expanded for strangers.
        new(SmtpReplyKind.ExpnRefused, 502, "5.5.1", "EXPN not available"),
        // RFC 5321 §4.1.3/Appendix F: TURN, SEND, SOML, SAML, VERB are obsolete; TURN would hand our mail to anyone.
        new(SmtpReplyKind.Obsolete, 502, "5.5.1", "Command obsolete, not implemented"),
        new(SmtpReplyKind.NotImplemented, 502, "5.5.1", "Command not implemented"),
        new(SmtpReplyKind.UnknownCommand, 500, "5.5.2", "Command unrecognized"),
        // RFC 5321 §4.5.3.1.4: 512 octets per command line including CRLF.
        new(SmtpReplyKind.LineTooLong, 500, "5.5.6", "Line too long"),
        new(SmtpReplyKind.InvalidCharacter, 500, "5.5.2", "Invalid character in command"),
        // RFC 6531 §3.7.4.1: non-ASCII without SMTPUTF8 is refused with 5.6.7.
        new(SmtpReplyKind.NonAsciiWithoutSmtpUtf8, 501, "5.6.7", "Non-ASCII characters need SMTPUTF8"),
        new(SmtpReplyKind.HeloSyntax, 501, "5.5.4", "Syntax: EHLO <domain>"),
        new(SmtpReplyKind.MailSyntax, 501, "5.5.4", "Syntax: MAIL FROM:<address>"),
        new(SmtpReplyKind.RcptSyntax, 501, "5.5.4", "Syntax: RCPT TO:<address>"),
        new(SmtpReplyKind.NoParametersAllowed, 501, "5.5.4", "No parameters allowed"),
        new(SmtpReplyKind.VrfySyntax, 501, "5.5.4", "Syntax: VRFY <address>"),
        new(SmtpReplyKind.BadSenderAddress, 501, "5.1.7", "Bad sender address syntax"),
        new(SmtpReplyKind.BadRecipientAddress, 501, "5.1.3", "Bad recipient address syntax"),
        new(SmtpReplyKind.BadParameterValue, 501, "5.5.4", "Invalid parameter value"),
        // RFC 5321 §4.1.1.11 / RFC 1869: 555 for MAIL/RCPT parameters we do not know.
        new(SmtpReplyKind.UnknownParameter, 555, "5.5.4", "Unsupported parameter"),
        // RFC 1870 §6: 552 for a declared or actual size over our fixed limit.
        new(SmtpReplyKind.MessageTooBig, 552, "5.3.4", "Message size exceeds fixed limit"),
        new(SmtpReplyKind.InsufficientStorage, 452, "4.3.1", "Insufficient system storage"),
        new(SmtpReplyKind.LocalError, 451, "4.3.0", "Local error in processing, try again later"),
        // RFC 5321 §4.5.3.1.10: 452 (not 552) so the client retries the rest later.
        new(SmtpReplyKind.TooManyRecipients, 452, "4.5.3", "Too many recipients"),
        new(SmtpReplyKind.NeedHelo, 503, "5.5.1", "Send HELO/EHLO first"),
        new(SmtpReplyKind.NestedMail, 503, "5.5.1", "Sender already specified"),
        new(SmtpReplyKind.NeedMail, 503, "5.5.1", "Need MAIL command"),
        new(SmtpReplyKind.NeedRecipient, 503, "5.5.1", "Need RCPT command"),
        // SMTP smuggling (CVE-2023-51764 family): Postfix's smtpd_forbid_bare_newline answer.
        new(SmtpReplyKind.BareLineEnding, 554, "5.6.0", "Message contains bare CR or LF; use CRLF line endings"),
        // RFC 3030 §2: each BDAT chunk but the last is answered on its own.
        new(SmtpReplyKind.ChunkReceived, 250, "2.0.0", "% octets received"),
        new(SmtpReplyKind.BdatSyntax, 501, "5.5.4", "Syntax: BDAT <size> [LAST]; closing connection"),
        new(SmtpReplyKind.OnlyBdatMayFollow, 503, "5.5.1", "Only BDAT may follow BDAT"),
        // RFC 3207 §4: 220 and the client starts the handshake; 454 when TLS is temporarily unavailable.
        new(SmtpReplyKind.ReadyToStartTls, 220, "2.0.0", "Ready to start TLS"),
        new(SmtpReplyKind.TlsNotAvailable, 454, "4.7.0", "TLS not available due to temporary reason"),
        new(SmtpReplyKind.TlsAlreadyActive, 503, "5.5.1", "TLS already active"),
        // RFC 3207 §4 / RFC 4954 §6: policy requires TLS before this command.
        new(SmtpReplyKind.EncryptionRequired, 530, "5.7.0", "Must issue a STARTTLS command first"),
        // RFC 4954 §4: "334 " followed by the base64 challenge (possibly empty); no enhanced code.
        new(SmtpReplyKind.AuthChallenge, 334, null, "%"),
        // RFC 4954 §6 reply codes.
        new(SmtpReplyKind.AuthSucceeded, 235, "2.7.0", "Authentication successful"),
        new(SmtpReplyKind.AuthCancelled, 501, "5.7.0", "Authentication cancelled"),
        new(SmtpReplyKind.AuthMalformed, 501, "5.5.2", "Cannot decode response"),
        new(SmtpReplyKind.AuthLineTooLong, 500, "5.5.6", "Authentication exchange line is too long"),
        new(SmtpReplyKind.AuthMechanismUnknown, 504, "5.5.4", "Unrecognized authentication type"),
        new(SmtpReplyKind.AuthInvalid, 535, "5.7.8", "Authentication credentials invalid"),
        new(SmtpReplyKind.AuthTemporaryFailure, 454, "4.7.0", "Temporary authentication failure"),
        new(SmtpReplyKind.AuthTooManyFailures, 421, "4.7.0", "Too many authentication failures, closing connection"),
        // RFC 4954 §4: no second AUTH after success, and none inside a mail transaction.
        new(SmtpReplyKind.AlreadyAuthenticated, 503, "5.5.1", "Already authenticated"),
        new(SmtpReplyKind.AuthDuringTransaction, 503, "5.5.1", "AUTH not permitted during a mail transaction"),
        // Relay policy (RFC 5321 §3.6.2: a relay must not be open; 5.7.1 = delivery not authorized).
        new(SmtpReplyKind.RelayDenied, 554, "5.7.1", "Relay access denied"),
        new(SmtpReplyKind.SenderNotAllowed, 550, "5.7.1", "Sender address not allowed"),
        new(SmtpReplyKind.RecipientNotAllowed, 550, "5.7.1", "Recipient domain not allowed"),
        // Rate limits (RFC 3463 4.7.x: temporary policy refusal; the client retries later).
        new(SmtpReplyKind.MessageRateExceeded, 450, "4.7.1", "Message rate limit exceeded, try again later"),
        new(SmtpReplyKind.TooManyConnectionsFromAddress, 421, "4.7.0", "Too many connections from your address, try again later"),
    ]);

    public static SmtpReply Get(SmtpReplyKind kind) => Table[(int)kind];

    private static SmtpReply[] Build(SmtpReply[] rows)
    {
        var table = new SmtpReply[Enum.GetValues<SmtpReplyKind>().Length];
        foreach (var row in rows)
        {
            if (table[(int)row.Kind] is not null)
                throw new InvalidOperationException($"Reply {row.Kind} listed twice");
            table[(int)row.Kind] = row;
        }
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] is null)
                throw new InvalidOperationException($"Reply {(SmtpReplyKind)i} missing from the table");
        }
        return table;
    }

    /// <summary>Writes one single-line reply into <paramref name="destination"/>; returns the bytes written.</summary>
    internal static int Format(SmtpReplyKind kind, ReadOnlySpan<char> argument, Span<byte> destination, bool more = false)
    {
        var reply = Get(kind);
        int n = 0;
        reply.CodeBytes.CopyTo(destination);
        n += reply.CodeBytes.Length;
        destination[n++] = more ? (byte)'-' : (byte)' ';
        reply.Head.CopyTo(destination[n..]);
        n += reply.Head.Length;
        n += Encoding.UTF8.GetBytes(argument, destination[n..]);
        reply.Tail.CopyTo(destination[n..]);
        n += reply.Tail.Length;
        return n;
    }

    /// <summary>A continuation or final line of a multi-line reply (RFC 5321 §4.2.1), e.g. an EHLO keyword.</summary>
    internal static int FormatLine(SmtpReplyKind kind, ReadOnlySpan<char> text, Span<byte> destination, bool more)
    {
        var reply = Get(kind);
        int n = 0;
        reply.CodeBytes.CopyTo(destination);
        n += reply.CodeBytes.Length;
        destination[n++] = more ? (byte)'-' : (byte)' ';
        n += Encoding.UTF8.GetBytes(text, destination[n..]);
        destination[n++] = (byte)'\r';
        destination[n++] = (byte)'\n';
        return n;
    }
}
