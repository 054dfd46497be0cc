using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Local;

/// <summary>
/// Puts a locally made message (alert, sendmail, `edgemail alert`) into the queue: through the
/// daemon's open spool, or — when no daemon runs — into the spool's maildrop, which the daemon
/// takes at once or at its next start. Either way the call returns only once the message is durable.
/// </summary>
public static partial class LocalSubmission
{
    public static Task<string> SubmitAsync(MessageSpool spool, Envelope envelope, MimeMessage message,
        CancellationToken cancellationToken = default)
        => SubmitAsync(spool, envelope, ToBytes(message), cancellationToken);

    public static async Task<string> SubmitAsync(MessageSpool spool, Envelope envelope, ReadOnlyMemory<byte> message,
        CancellationToken cancellationToken = default)
    {
        var writer = spool.Create(envelope);
        await using (writer.ConfigureAwait(false))
            return await WriteAsync(writer, message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The wire form: CRLF line ends (RFC 5322 §2.1), as the spool stores SMTP DATA.</summary>
    public static byte[] ToBytes(MimeMessage message)
    {
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        using var buffer = new MemoryStream();
        message.WriteTo(format, buffer);
        return buffer.ToArray();
    }

    private static async Task<string> WriteAsync(SpoolWriter writer, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        try
        {
            await writer.WriteAsync(message, ct).ConfigureAwait(false);
            await writer.CommitAsync(ct).ConfigureAwait(false);
            return writer.QueueId;
        }
        catch
        {
            writer.Abort();
            throw;
        }
    }
}
