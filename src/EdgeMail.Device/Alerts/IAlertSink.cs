using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Alerts;

/// <summary>Where alert mail goes. The daemon uses <see cref="SpoolAlertSink"/>; tests record.</summary>
public interface IAlertSink
{
    /// <summary>Returns the queue ID.</summary>
    Task<string> SubmitAsync(Envelope envelope, MimeMessage message, CancellationToken cancellationToken);
}

/// <summary>Enqueues alerts in the daemon's open spool: they relay like any mail and survive a reboot.</summary>
public sealed class SpoolAlertSink(MessageSpool spool) : IAlertSink
{
    public Task<string> SubmitAsync(Envelope envelope, MimeMessage message, CancellationToken cancellationToken)
        => Local.LocalSubmission.SubmitAsync(spool, envelope, message, cancellationToken);
}
