using System.Text;
using EdgeMail.Device.Alerts;
using MimeKit;

namespace EdgeMail.Device.Local;

/// <summary>`edgemail alert --to ADDR --subject TEXT` with the body on stdin, for scripts and cron.</summary>
public static class AlertCommand
{
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>Composes a proper message (as the sensor alerts are) and drops it into the spool.</summary>
    public static async Task<SendmailResult> RunAsync(IReadOnlyList<string> to, string subject, Stream body, string from,
        string hostName, string spoolDirectory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        if (to.Count == 0)
            return new SendmailResult(Sysexits.Usage, "--to is required");
        foreach (var r in to)
            if (!MailboxAddress.TryParse(r, out var m) || !m.Address.Contains('@'))
                return new SendmailResult(Sysexits.NoUser, $"not a mail address: {r}");
        if (!MailboxAddress.TryParse(from, out _))
            return new SendmailResult(Sysexits.Config, $"not a sender address: {from}");

        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        try
        {
            int n;
            while (length < buffer.Length && (n = await body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
                length += n;
        }
        catch (IOException e)
        {
            return new SendmailResult(Sysexits.IoErr, "reading the body failed: " + e.Message);
        }
        if (length > MaxBodyBytes)
            return new SendmailResult(Sysexits.DataErr, $"body larger than {MaxBodyBytes} bytes");
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return new SendmailResult(Sysexits.DataErr, "the body is not UTF-8 text");
        }

        var now = (time ?? TimeProvider.System).GetUtcNow();
        var message = AlertMail.Compose(from, to, subject, text, hostName, now);
        var envelope = AlertMail.EnvelopeFor(from, to, now);
        var data = LocalSubmission.ToBytes(message);
        try
        {
            var id = await LocalSubmission.DropAsync(spoolDirectory, envelope, data, cancellationToken).ConfigureAwait(false);
            return new SendmailResult(Sysexits.Ok, null, new PreparedMessage(envelope, data), id);
        }
        catch (Exception e) when (e is EdgeMail.Spool.SpoolException or UnauthorizedAccessException)
        {
            return new SendmailResult(Sysexits.TempFail, "cannot queue the alert: " + e.Message);
        }
    }
}
