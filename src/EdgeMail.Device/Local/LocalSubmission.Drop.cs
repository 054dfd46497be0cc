using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Local;

public static partial class LocalSubmission
{
    /// <summary>
    /// For another process (sendmail, `edgemail alert`): writes into the spool's maildrop with the same
    /// fsync-then-rename commit. Needs no daemon; a running daemon imports it at once, a stopped one at
    /// its next start. Returns the queue ID. Throws <see cref="SpoolException"/>.
    /// </summary>
    public static Task<string> DropAsync(string spoolDirectory, Envelope envelope, MimeMessage message,
        CancellationToken cancellationToken = default)
        => DropAsync(spoolDirectory, envelope, ToBytes(message), cancellationToken);

    public static async Task<string> DropAsync(string spoolDirectory, Envelope envelope, ReadOnlyMemory<byte> message,
        CancellationToken cancellationToken = default)
    {
        var writer = MessageSpool.CreateDrop(spoolDirectory, envelope);
        await using (writer.ConfigureAwait(false))
            return await WriteAsync(writer, message, cancellationToken).ConfigureAwait(false);
    }
}
