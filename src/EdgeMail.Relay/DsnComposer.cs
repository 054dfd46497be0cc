using System.Text;
using EdgeMail.Spool;
using MimeKit;
using MimeKit.Utils;

namespace EdgeMail.Relay;

/// <summary>
/// Delivery status notifications (RFC 3464): multipart/report; report-type=delivery-status (RFC 6522) with a
/// human-readable part, a message/delivery-status part (one per-message group, one group per recipient) and the
/// original headers as text/rfc822-headers. Only headers are returned, never the body: the sender has it, and a
/// bounce must stay small on a Pi's SD card.
/// </summary>
internal static class DsnComposer
{
    internal const int MaxHeaderBytes = 64 * 1024;

    public static byte[] Compose(string queueId, Envelope original, IReadOnlyList<RecipientOutcome> recipients, bool delayed,
        string reportingMta, DateTimeOffset now, DateTimeOffset? retryUntil, ReadOnlyMemory<byte> originalHeaders)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@" + reportingMta));
        AddRecipient(message, original.Sender);
        message.Subject = delayed ? "Delayed Mail (still being retried)" : "Undelivered Mail Returned to Sender";
        message.Date = now;
        message.MessageId = MimeUtils.GenerateMessageId(reportingMta);
        // RFC 3834 §5: machine-generated, so well-behaved responders do not answer it.
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = HumanText(queueId, recipients, delayed, reportingMta, retryUntil) });

        var status = new MessageDeliveryStatus();
        var perMessage = new HeaderList
        {
            { "Reporting-MTA", "dns; " + reportingMta },
            { "X-EdgeMail-Queue-ID", queueId },
            { "Arrival-Date", DateUtils.FormatDate(original.Arrived) },
        };
        status.StatusGroups.Add(perMessage);
        foreach (var r in recipients)
        {
            var group = new HeaderList
            {
                { "Final-Recipient", "rfc822; " + r.Address },
                { "Action", delayed ? "delayed" : "failed" },
                { "Status", r.Dsn },
            };
            if (r.RemoteMta is not null)
            {
                group.Add("Remote-MTA", "dns; " + r.RemoteMta);
                group.Add("Diagnostic-Code", "smtp; " + DeliveryLog.Sanitize(r.Reply));
            }
            group.Add("Last-Attempt-Date", DateUtils.FormatDate(now));
            if (delayed && retryUntil is { } until) group.Add("Will-Retry-Until", DateUtils.FormatDate(until));
            status.StatusGroups.Add(group);
        }
        report.Add(status);

        var headersPart = new MimePart("text", "rfc822-headers")
        {
            Content = new MimeContent(new MemoryStream(originalHeaders.ToArray(), writable: false)),
        };
        report.Add(headersPart);
        message.Body = report;

        // SMTP needs CRLF line ends whatever the platform (RFC 5321 §2.3.8).
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        using var output = new MemoryStream();
        message.WriteTo(format, output);
        return output.ToArray();
    }

    private static void AddRecipient(MimeMessage message, string address)
    {
        try { message.To.Add(MailboxAddress.Parse(address)); }
        catch (ParseException) { message.Headers.Add("To", "<" + address + ">"); }
    }

    private static string HumanText(string queueId, IReadOnlyList<RecipientOutcome> recipients, bool delayed, string mta, DateTimeOffset? retryUntil)
    {
        var b = new StringBuilder();
        b.Append("This is the mail system at host ").Append(mta).Append(".\r\n\r\n");
        if (delayed)
        {
            b.Append("Your message (queue ID ").Append(queueId).Append(") could not be delivered yet to the recipients below.\r\n");
            b.Append("It is still being retried");
            if (retryUntil is { } u) b.Append(" until ").Append(u.UtcDateTime.ToString("u", System.Globalization.CultureInfo.InvariantCulture));
            b.Append(". You do not need to send it again.\r\n\r\n");
        }
        else
        {
            b.Append("Your message (queue ID ").Append(queueId).Append(") could not be delivered to the recipients below.\r\n");
            b.Append("This is a permanent error; the message has been removed from the queue.\r\n\r\n");
        }
        foreach (var r in recipients)
            b.Append('<').Append(r.Address).Append(">: ").Append(DeliveryLog.Sanitize(r.Reply)).Append("\r\n");
        return b.ToString();
    }

    /// <summary>The original header block: up to and including the empty line, at most <see cref="MaxHeaderBytes"/>
    /// (cut at a line end). Read through a fixed buffer; the body is never read.</summary>
    public static byte[] ReadHeaders(Stream message)
    {
        var buffer = new byte[MaxHeaderBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = message.Read(buffer, length, buffer.Length - length);
            if (n == 0) break;
            var searchFrom = Math.Max(0, length - 3);
            length += n;
            var end = buffer.AsSpan(searchFrom, length - searchFrom).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return buffer.AsSpan(0, searchFrom + end + 4).ToArray();
        }
        var lastLine = buffer.AsSpan(0, length).LastIndexOf("\r\n"u8);
        return buffer.AsSpan(0, lastLine < 0 ? 0 : lastLine + 2).ToArray();
    }

    /// <summary>The DSN's own envelope: the null reverse-path (RFC 5321 §4.5.5), so a failing bounce is never bounced.</summary>
    public static Envelope EnvelopeFor(Envelope original, string helo, ReadOnlySpan<byte> headers, DateTimeOffset now) => new()
    {
        Sender = "",
        Recipients = [original.Sender],
        ClientAddress = "local",
        Helo = helo,
        Protocol = "LOCAL",
        Body = headers.ContainsAnyInRange((byte)0x80, (byte)0xff) ? BodyType.EightBitMime : BodyType.SevenBit,
        SmtpUtf8 = original.SmtpUtf8,
        Arrived = now,
    };
}
