using System.Net.Sockets;
using System.Security.Authentication;

namespace EdgeMail.Smtp.Client;

/// <summary>What a reply means for the transaction in hand.</summary>
internal enum Verdict
{
    /// <summary>The expected reply: carry on.</summary>
    Proceed,
    /// <summary>4xx: this message (or recipient) is retried later.</summary>
    Defer,
    /// <summary>5xx: this message (or recipient) bounces.</summary>
    Fail,
}

/// <summary>Every outcome of the client is classified here and nowhere else (cf. Postfix smtp_trouble.c):
/// <list type="bullet">
/// <item>the connection cannot go on (connect, TLS, timeout, broken protocol, 421, a refusal of the greeting or
/// EHLO) → <see cref="SmtpClientException"/>: the relay defers or fails over the whole route;</item>
/// <item>4xx to MAIL/DATA/end of data → the message is deferred; 4xx to RCPT → that recipient is deferred;</item>
/// <item>5xx to MAIL/DATA/end of data → the message fails; 5xx to RCPT → that recipient fails;</item>
/// <item>refusals we decide ourselves before sending (size, SMTPUTF8, 8BITMIME, bad address) → Failed with a
/// synthetic reply saying so.</item>
/// </list></summary>
internal static class SmtpTrouble
{
    // ---- connection-level: exceptions -------------------------------------------------------------------

    /// <summary>Maps an exception from the transport to the session failure it stands for. Cancellation by the
    /// caller stays a cancellation; our own timeout becomes <see cref="SmtpFailureKind.Timeout"/>.</summary>
    internal static Exception FromTransport(Exception ex, string host, string stage, CancellationToken callerToken) => ex switch
    {
        SmtpClientException => ex,
        OperationCanceledException when callerToken.IsCancellationRequested => ex,
        OperationCanceledException => new SmtpClientException(SmtpFailureKind.Timeout, host, $"timed out during {stage}", inner: ex),
        AuthenticationException => new SmtpClientException(SmtpFailureKind.Tls, host, $"TLS handshake failed: {ex.Message}", inner: ex),
        IOException or SocketException or ObjectDisposedException =>
            new SmtpClientException(SmtpFailureKind.Protocol, host, $"connection lost during {stage}: {ex.Message}", inner: ex),
        _ => ex,
    };

    internal static SmtpClientException Connect(string host, Exception ex) =>
        new(SmtpFailureKind.Connect, host, $"cannot connect: {ex.Message}", inner: ex);

    internal static SmtpClientException ConnectTimeout(string host, TimeSpan timeout) =>
        new(SmtpFailureKind.Timeout, host, $"cannot connect: no answer within {timeout.TotalSeconds:0} s");

    internal static SmtpClientException Protocol(string host, string stage, string what) =>
        new(SmtpFailureKind.Protocol, host, $"protocol error during {stage}: {what}");

    internal static SmtpClientException Unusable(string host) =>
        new(SmtpFailureKind.Protocol, host, "session already failed or closed; open a new connection");

    internal static SmtpClientException CertificateVerification(string host, string reason) =>
        new(SmtpFailureKind.CertificateVerification, host, $"certificate verification failed: {reason}");

    internal static SmtpClientException StartTlsNotOffered(string host) =>
        new(SmtpFailureKind.Tls, host, "STARTTLS is required for this route but the server does not offer it");

    internal static SmtpClientException StartTlsRefused(string host, SmtpReply reply) =>
        new(SmtpFailureKind.Tls, host, $"STARTTLS refused: {reply}", reply);

    internal static SmtpClientException Auth(string host, string what, SmtpReply? reply = null) =>
        new(SmtpFailureKind.AuthFailed, host, reply is null ? $"authentication failed: {what}" : $"authentication failed: {what}: {reply}", reply);

    /// <summary>RFC 5321 §3.8: 421 means the server is closing the channel, whatever the command was.</summary>
    internal static void ThrowIfClosing(SmtpReply reply, string host, string stage)
    {
        if (reply.Code == 421)
            throw new SmtpClientException(SmtpFailureKind.ServerUnavailable, host, $"service not available at {stage}: {reply}", reply);
    }

    /// <summary>The greeting (RFC 5321 §4.3.2: 220, or 554 for "no SMTP service here").</summary>
    internal static void CheckGreeting(SmtpReply reply, string host) => CheckSessionReply(reply, host, "greeting", 220);

    /// <summary>RFC 5321 §3.2 / §4.1.4: an EHLO refused as unknown (500) or not implemented (502) means an
    /// old server; try HELO. Any other refusal is about us and stands.</summary>
    internal static bool ShouldFallBackToHelo(SmtpReply reply) => reply.Code is 500 or 502;

    internal static void CheckHello(SmtpReply reply, string host, string stage) => CheckSessionReply(reply, host, stage, 250);

    private static void CheckSessionReply(SmtpReply reply, string host, string stage, int expected)
    {
        ThrowIfClosing(reply, host, stage);
        if (reply.Code == expected) return;
        if (reply.IsTransient)
            throw new SmtpClientException(SmtpFailureKind.ServerUnavailable, host, $"temporarily refused at {stage}: {reply}", reply);
        if (reply.IsPermanent)
            throw new SmtpClientException(SmtpFailureKind.Rejected, host, $"refused at {stage}: {reply}", reply);
        throw Protocol(host, stage, $"unexpected reply {reply}");
    }

    /// <summary>RSET must succeed (RFC 5321 §4.1.1.5); if it does not, the session state is unknown.</summary>
    internal static void CheckReset(SmtpReply reply, string host)
    {
        ThrowIfClosing(reply, host, "RSET");
        if (reply.Code / 100 != 2) throw Protocol(host, "RSET", $"RSET refused: {reply}");
    }

    // ---- transaction-level: verdicts ------------------------------------------------------------------------

    /// <summary>Classifies a reply to MAIL, RCPT (expect 2xx), DATA (expect 354) or the end of data (expect 2xx).
    /// 421 ends the session; a reply of an unexpected class (e.g. 354 to RCPT) is a protocol error.</summary>
    internal static Verdict Classify(SmtpReply reply, string host, string stage, int expectedClass = 2)
    {
        ThrowIfClosing(reply, host, stage);
        int cls = reply.Code / 100;
        if (cls == expectedClass) return Verdict.Proceed;
        if (cls == 4) return Verdict.Defer;
        if (cls == 5) return Verdict.Fail;
        throw Protocol(host, stage, $"unexpected reply {reply}");
    }

    internal static DeliveryClass ToDelivery(Verdict verdict) => verdict switch
    {
        Verdict.Proceed => DeliveryClass.Sent,
        Verdict.Defer => DeliveryClass.Deferred,
        _ => DeliveryClass.Failed,
    };

    // ---- refusals we decide before sending ---------------------------------------------------------------

    /// <summary>RFC 1870 §6: a message larger than the server's SIZE would be refused after transfer anyway;
    /// not sending it saves the bandwidth, and 552 5.3.4 is what the server would have said.</summary>
    internal static SmtpReply MessageTooBig(long size, long max) =>
        new(552, "5.3.4", $"message is {size} bytes, the upstream accepts at most {max} (SIZE); not sent");

    /// <summary>RFC 6531 §3.4: without the SMTPUTF8 extension a message with UTF-8 addresses cannot be sent;
    /// 5.6.7 (RFC 6533 §3) is the status for that. A message whose headers alone need SMTPUTF8 gets 5.6.9.</summary>
    internal static SmtpReply SmtpUtf8NotOffered(bool addressesNeedIt) => addressesNeedIt
        ? new(553, "5.6.7", "non-ASCII address, and the upstream does not offer SMTPUTF8; not sent")
        : new(554, "5.6.9", "UTF-8 header message, and the upstream does not offer SMTPUTF8; not sent");

    /// <summary>An 8-bit message to a server without 8BITMIME. RFC 6152 §3 leaves two choices: convert to 7 bit
    /// or return a non-delivery report. We bounce, as dma does, rather than send anyway as Postfix does with
    /// non-MIME 8-bit bodies: our relay promises the upstream gets exactly the bytes we accepted, so a 7-bit
    /// downgrade is out, and sending 8-bit data to a server that never agreed to it risks silent corruption
    /// further down the path (the high bit stripped) with nobody told. A bounce says clearly what happened, and
    /// servers without 8BITMIME are rare enough now that this is almost always a misconfigured upstream.</summary>
    internal static SmtpReply EightBitNotOffered() =>
        new(554, "5.6.3", "8-bit message, and the upstream does not offer 8BITMIME (conversion is not done); not sent");

    /// <summary>An address we would not put on a command line (control characters, angle brackets, or longer
    /// than we bound): refused locally so nothing it contains can reach the wire as a command.</summary>
    internal static SmtpReply BadAddress(bool sender) => sender
        ? new(553, "5.1.7", "sender address not usable on an SMTP command line; not sent")
        : new(553, "5.1.3", "recipient address not usable on an SMTP command line; not sent");
}
