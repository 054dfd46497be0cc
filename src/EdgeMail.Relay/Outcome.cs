using EdgeMail.Smtp.Client;
using EdgeMail.Spool;

namespace EdgeMail.Relay;

/// <summary>What happened to one recipient in one attempt.</summary>
internal sealed record RecipientOutcome(string Address, RecipientStatus Status, string Dsn, string Reply, string? RemoteMta, string Relay);

/// <summary>
/// Every delivery outcome is classified here and nowhere else (Postfix's smtp_trouble.c):
/// a connection, TLS or protocol failure defers the route (try the next host); 4xx defers the recipient;
/// 5xx fails the recipient permanently.
/// </summary>
internal static class Classify
{
    public static RecipientStatus Of(DeliveryClass c) => c switch
    {
        DeliveryClass.Sent => RecipientStatus.Delivered,
        DeliveryClass.Failed => RecipientStatus.Failed,
        _ => RecipientStatus.Pending,
    };

    /// <summary>A session-level failure: is it permanent for the recipients of this transaction?
    /// Only an explicit 5xx rejection is; everything else (no connection, TLS, timeouts, AUTH, 421) is the
    /// route's problem and is retried, on the next host first.</summary>
    public static bool IsPermanent(SmtpClientException e)
        => e.Kind == SmtpFailureKind.Rejected && e.Reply is { Code: >= 500 and < 600 };

    public static string Dsn(SmtpReply reply)
        => reply.Enhanced ?? (reply.Code >= 500 ? "5.0.0" : reply.Code >= 400 ? "4.0.0" : "2.0.0");

    public static string Text(SmtpReply reply) => reply.ToString();

    /// <summary>The client's message already names the host and the reason (and never a secret).</summary>
    public static string Describe(SmtpClientException e) => e.Message;

    public static string DsnOf(SmtpClientException e) => e.Reply is { } r ? Dsn(r) : e.Kind switch
    {
        SmtpFailureKind.Connect => "4.4.1",
        SmtpFailureKind.Timeout => "4.4.2",
        SmtpFailureKind.Tls or SmtpFailureKind.CertificateVerification => "4.7.5",
        SmtpFailureKind.AuthFailed => "4.7.0",
        _ => "4.4.0",
    };
}

/// <summary>Exponential backoff with jitter: first, first·f, first·f², … capped, each shortened by up to <c>Jitter</c>.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(RelayOptions o, int attempt, Random random)
    {
        var n = Math.Max(1, attempt);
        var seconds = o.FirstRetry.TotalSeconds * Math.Pow(Math.Max(1.0, o.BackoffFactor), n - 1);
        seconds = Math.Min(seconds, o.MaxRetry.TotalSeconds);
        if (o.Jitter > 0) seconds *= 1.0 - random.NextDouble() * Math.Min(o.Jitter, 0.9);
        return TimeSpan.FromSeconds(Math.Max(1.0, seconds));
    }
}
