using EdgeMail.Smtp.Replies;
using System.Net.Security;

namespace EdgeMail.Smtp.Security;

/// <summary>
/// The STARTTLS rules (RFC 3207) as code the session calls, in this order:
///
///   1. <see cref="Check"/> when the STARTTLS line is parsed: null → go on, else send the reply.
///   2. Write and flush <see cref="SmtpReplyKind.ReadyToStartTls"/>.
///   3. <see cref="DiscardPipelinedPlaintext"/> on the session's input buffer. Anything the client
///      sent after "STARTTLS\r\n" and before the handshake is plaintext that a man in the middle can
///      inject and that would otherwise be executed as if it came over TLS (CVE-2011-0411).
///   4. <see cref="HandshakeAsync"/>; from then on read and write only the returned SslStream.
///   5. Forget the EHLO/HELO argument, announced extensions, any AUTH identity and the mail
///      transaction: RFC 3207 §4.2 says the server MUST discard knowledge not obtained from the TLS
///      negotiation itself. The client must send EHLO again.
/// </summary>
public static class StartTls
{
    /// <summary>RFC 3207 §4: "STARTTLS" takes no parameters and is meaningless once TLS is up.</summary>
    public static SmtpReplyKind? Check(bool tlsActive, bool hasParameters, bool tlsAvailable)
    {
        if (hasParameters) return SmtpReplyKind.NoParametersAllowed;
        if (tlsActive) return SmtpReplyKind.TlsAlreadyActive;
        if (!tlsAvailable) return SmtpReplyKind.TlsNotAvailable;
        return null;
    }

    /// <summary>
    /// Drops the unread bytes of a fixed input buffer whose unread region is [start, end): after it,
    /// start = end = 0. Returns how many bytes were dropped (worth a log line: a well-behaved
    /// client waits for the 220 and sends nothing, so any count above zero is suspicious).
    /// </summary>
    public static int DiscardPipelinedPlaintext(ref int start, ref int end)
    {
        int dropped = end - start;
        start = end = 0;
        return dropped;
    }

    /// <summary>
    /// Runs the server handshake over the raw connection stream (not over any buffered reader on top
    /// of it, which may hold read-ahead plaintext) with a bound on how long a client may take.
    /// The SslStream owns the transport from here on; dispose it to close.
    /// </summary>
    public static async Task<SslStream> HandshakeAsync(Stream transport, SslServerAuthenticationOptions options, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(options, cts.Token).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
