using System.Globalization;
using System.Text;
using EdgeMail.Spool;
using MimeKit;
using MimeKit.Utils;

namespace EdgeMail.Device.Alerts;

/// <summary>Composes the RFC 5322 messages the device sends about itself.</summary>
public static class AlertMail
{
    /// <summary>
    /// A complete message: Date, Message-ID (RFC 5322 §3.6.4, right side = our host name), From, To,
    /// Subject (MimeKit applies RFC 2047 encoded-words when it is not ASCII), Auto-Submitted
    /// (RFC 3834 §5, so autoresponders do not answer a machine), a UTF-8 text body made 7-bit safe.
    /// </summary>
    public static MimeMessage Compose(string from, IReadOnlyList<string> to, string subject, string body,
        string hostName, DateTimeOffset date)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        foreach (var r in to)
            message.To.Add(MailboxAddress.Parse(r));
        message.Subject = subject;
        message.Date = date;
        message.MessageId = MimeUtils.GenerateMessageId(hostName);
        message.Headers.Add("Auto-Submitted", "auto-generated");
        message.Body = new TextPart("plain") { Text = body.ReplaceLineEndings("\r\n") };
        message.Prepare(EncodingConstraint.SevenBit);
        return message;
    }

    /// <summary>The envelope for a message the device itself submits.</summary>
    public static Envelope EnvelopeFor(string from, IReadOnlyList<string> to, DateTimeOffset now) => new()
    {
        Sender = from,
        Recipients = to,
        ClientAddress = "local",
        Protocol = "LOCAL",
        Arrived = now,
    };

    internal static string Fill(string template, IReadOnlyDictionary<string, string> values)
    {
        var sb = new StringBuilder(template.Length + 32);
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == '{')
            {
                var end = template.IndexOf('}', i + 1);
                if (end > i && values.TryGetValue(template[(i + 1)..end], out var v))
                {
                    sb.Append(v);
                    i = end;
                    continue;
                }
            }
            sb.Append(template[i]);
        }
        // A header cannot carry line breaks; a template or value with one is flattened.
        return sb.ToString().ReplaceLineEndings(" ");
    }

    internal static string Number(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    internal static string Time(DateTimeOffset t) => t.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
