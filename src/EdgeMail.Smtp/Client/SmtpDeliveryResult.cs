namespace EdgeMail.Smtp.Client;

public enum DeliveryClass
{
    /// <summary>The upstream took responsibility (2xx to the end of DATA).</summary>
    Sent,
    /// <summary>Try again later (4xx), only this recipient or message.</summary>
    Deferred,
    /// <summary>Permanent failure (5xx, or refused locally before sending): bounce.</summary>
    Failed,
}

public sealed record RecipientResult(string Address, DeliveryClass Class, SmtpReply Reply);

/// <summary>Per-recipient outcome of one transaction; <paramref name="MessageReply"/> is the reply that decided
/// the message as a whole (MAIL, DATA or end of data), null when every recipient was refused at RCPT.</summary>
public sealed record SmtpDeliveryResult(IReadOnlyList<RecipientResult> Recipients, SmtpReply? MessageReply);
