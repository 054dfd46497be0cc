using System.Text;
using EdgeMail.Spool;
using MimeKit;
using MimeKit.Utils;

namespace EdgeMail.Device.Local;

/// <summary>What sendmail uses when the command line and the message leave something out.</summary>
public sealed class SendmailDefaults
{
    /// <summary>Envelope sender when there is no -f: typically user@host or the configured sender.</summary>
    public required string Sender { get; init; }
    /// <summary>Appended to recipients without a domain ("root" from cron → root@Domain).</summary>
    public required string Domain { get; init; }
    /// <summary>Right side of generated Message-IDs.</summary>
    public string HostName { get; init; } = Environment.MachineName;
    /// <summary>Larger input is refused with EX_DATAERR (the same limit the SMTP server enforces).</summary>
    public long MaxMessageSize { get; init; } = 25L << 20;
}

public sealed record PreparedMessage(Envelope Envelope, byte[] Data);

public sealed record SendmailResult(int ExitCode, string? Error, PreparedMessage? Message = null, string? QueueId = null)
{
    public bool Ok => ExitCode == Sysexits.Ok;
}

/// <summary>
/// Turns what a script pipes into sendmail into a message the relay can send: CRLF line ends, a header
/// section MimeKit can parse, Date/Message-ID/From added when missing (RFC 5322 §3.6 requires Date and
/// From; Message-ID SHOULD be present), Bcc removed under -t. Existing header fields are written back as
/// they came (MimeKit keeps each field's raw value) and the body bytes are not re-encoded.
/// </summary>
public static class SendmailMessage
{
    /// <summary>The one call for the CLI: read stdin, fix headers, drop into the spool. Never throws
    /// for a user or spool problem: the result carries the sysexits code and a one-line reason.</summary>
    public static async Task<SendmailResult> SendAsync(Stream input, SendmailOptions options, SendmailDefaults defaults,
        string spoolDirectory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var prepared = await ReadAsync(input, options, defaults, time, cancellationToken).ConfigureAwait(false);
        if (!prepared.Ok)
            return prepared;
        try
        {
            var id = await LocalSubmission.DropAsync(spoolDirectory, prepared.Message!.Envelope, prepared.Message.Data, cancellationToken)
                .ConfigureAwait(false);
            return prepared with { QueueId = id };
        }
        catch (SpoolException e)
        {
            // Full or failing spool: the caller (cron, a script) should try again later.
            return new SendmailResult(Sysexits.TempFail, "cannot queue the message: " + e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return new SendmailResult(Sysexits.TempFail, "cannot queue the message: " + e.Message);
        }
    }

    public static async Task<SendmailResult> ReadAsync(Stream input, SendmailOptions options, SendmailDefaults defaults,
        TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        // Bounded: at most MaxMessageSize + 1 bytes are ever held.
        var limit = defaults.MaxMessageSize + 1;
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            while (buffer.Length < limit)
            {
                var n = await input.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, limit - buffer.Length)), cancellationToken)
                    .ConfigureAwait(false);
                if (n == 0)
                    break;
                buffer.Write(chunk, 0, n);
            }
        }
        catch (IOException e)
        {
            return new SendmailResult(Sysexits.IoErr, "reading the message failed: " + e.Message);
        }
        if (buffer.Length >= limit)
            return new SendmailResult(Sysexits.DataErr, $"message larger than {defaults.MaxMessageSize} bytes");
        return Prepare(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), options, defaults, (time ?? TimeProvider.System).GetUtcNow());
    }

    public static SendmailResult Prepare(ReadOnlySpan<byte> input, SendmailOptions options, SendmailDefaults defaults, DateTimeOffset now)
    {
        if (options.Error is not null)
            return new SendmailResult(Sysexits.Usage, options.Error);
        if (input.Length > defaults.MaxMessageSize)
            return new SendmailResult(Sysexits.DataErr, $"message larger than {defaults.MaxMessageSize} bytes");

        var (headerBytes, body) = Split(Canonicalize(input, options.IgnoreDots));
        HeaderList headers;
        try
        {
            headers = HeaderList.Load(ParserOptions.Default, new MemoryStream(headerBytes));
        }
        catch (FormatException e)
        {
            return new SendmailResult(Sysexits.DataErr, "unreadable header section: " + e.Message);
        }

        var recipients = new List<string>();
        foreach (var r in options.Recipients)
            if (!AddRecipients(r, defaults.Domain, recipients))
                return new SendmailResult(Sysexits.NoUser, $"not a mail address: {r}");
        if (options.ExtractRecipients)
        {
            foreach (var h in headers)
            {
                if (h.Id is not (HeaderId.To or HeaderId.Cc or HeaderId.Bcc))
                    continue;
                if (!AddRecipients(h.Value, defaults.Domain, recipients))
                    return new SendmailResult(Sysexits.NoUser, $"not a mail address in {h.Field}: {h.Value}");
            }
            // Bcc recipients get the message, but must not see each other (RFC 5322 §3.6.3).
            headers.RemoveAll(HeaderId.Bcc);
        }
        if (recipients.Count == 0)
            return new SendmailResult(Sysexits.Usage, "no recipients found");

        var sender = options.Sender ?? defaults.Sender;
        if (sender.Length > 0 && !sender.Contains('@'))
            sender += "@" + defaults.Domain;
        if (sender.Length > 0 && !MailboxAddress.TryParse(sender, out _))
            return new SendmailResult(Sysexits.Usage, $"not a sender address: {sender}");

        if (!headers.Contains(HeaderId.From))
        {
            var fromAddress = sender.Length > 0 ? sender : defaults.Sender;
            var from = new MailboxAddress(options.FullName ?? "", fromAddress);
            headers.Add(new Header(HeaderId.From, from.ToString(encode: true)));
        }
        if (!headers.Contains(HeaderId.Date))
            headers.Add(new Header(HeaderId.Date, DateUtils.FormatDate(now)));
        if (!headers.Contains(HeaderId.MessageId))
            headers.Add(new Header(HeaderId.MessageId, "<" + MimeUtils.GenerateMessageId(defaults.HostName) + ">"));

        var output = new MemoryStream(headerBytes.Length + body.Length + 256);
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        headers.WriteTo(format, output);
        // MimeKit ends the header block with the empty separator line; make sure of it either way.
        if (!output.GetBuffer().AsSpan(0, (int)output.Length).EndsWith("\r\n\r\n"u8))
            output.Write("\r\n"u8);
        output.Write(body);
        var data = output.ToArray();

        var envelope = new Envelope
        {
            Sender = sender,
            Recipients = recipients,
            ClientAddress = "local",
            Protocol = "LOCAL",
            Body = data.AsSpan().IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0 ? BodyType.EightBitMime : BodyType.SevenBit,
            SmtpUtf8 = !Ascii.IsValid(sender) || recipients.Any(r => !Ascii.IsValid(r)),
            Arrived = now,
        };
        return new SendmailResult(Sysexits.Ok, null, new PreparedMessage(envelope, data));
    }

    /// <summary>
    /// Input lines end in LF (scripts) or CRLF; the queue holds the SMTP form, CRLF (RFC 5322 §2.1).
    /// Without -i a line holding only "." ends the message, as in classic sendmail.
    /// </summary>
    internal static byte[] Canonicalize(ReadOnlySpan<byte> input, bool ignoreDots)
    {
        var output = new MemoryStream(input.Length + input.Length / 32 + 2);
        while (!input.IsEmpty)
        {
            var nl = input.IndexOf((byte)'\n');
            var line = nl < 0 ? input : input[..nl];
            input = nl < 0 ? [] : input[(nl + 1)..];
            if (line.EndsWith("\r"u8))
                line = line[..^1];
            if (!ignoreDots && line.SequenceEqual("."u8))
                break;
            output.Write(line);
            output.Write("\r\n"u8);
        }
        return output.ToArray();
    }

    /// <summary>
    /// Splits at the end of the header section: the first empty line, or the first line that is not a
    /// header field (RFC 5322 §2.2: name of printable ASCII except ":", then ":") nor a folded
    /// continuation — a message piped without headers becomes a body under the headers we add.
    /// A leading mbox "From " line is dropped.
    /// </summary>
    internal static (byte[] Header, byte[] Body) Split(byte[] message)
    {
        var span = message.AsSpan();
        var start = 0;
        if (span.StartsWith("From "u8))
            start = span.IndexOf("\r\n"u8) + 2;
        var pos = start;
        var sawField = false;
        while (pos < span.Length)
        {
            var end = span[pos..].IndexOf("\r\n"u8);
            var line = span.Slice(pos, end);
            if (line.IsEmpty)
                return (message[start..pos], message[(pos + 2)..]);
            var isContinuation = sawField && (line[0] == (byte)' ' || line[0] == (byte)'\t');
            if (!isContinuation && !IsFieldStart(line))
                break;
            sawField = true;
            pos += end + 2;
        }
        return (message[start..pos], message[pos..]);
    }

    private static bool IsFieldStart(ReadOnlySpan<byte> line)
    {
        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
            return false;
        foreach (var b in line[..colon])
            if (b is < 33 or > 126)
                return false;
        return true;
    }

    private static bool AddRecipients(string text, string domain, List<string> into)
    {
        if (!InternetAddressList.TryParse(text, out var list))
        {
            // A bare local part ("root") is not an RFC 5322 address but what cron and scripts use.
            var bare = text.Trim();
            if (bare.Length == 0 || bare.Contains(' ') || bare.Contains('@') || !MailboxAddress.TryParse(bare + "@" + domain, out var m))
                return false;
            list = [m];
        }
        foreach (var mailbox in list.Mailboxes)
        {
            var address = mailbox.Address.Contains('@') ? mailbox.Address : mailbox.Address + "@" + domain;
            if (address.StartsWith('@') || address.EndsWith('@'))
                return false;
            if (!into.Contains(address, StringComparer.OrdinalIgnoreCase))
                into.Add(address);
        }
        return true;
    }
}
