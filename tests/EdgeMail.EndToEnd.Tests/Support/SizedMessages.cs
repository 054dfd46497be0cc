using System.Text;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// Messages of an exact size and one-transaction sends over <see cref="RawSmtpClient"/>, for the fault
/// tests: a queue entry whose size is not one a client sent is a half-written message.
/// </summary>
public static class SizedMessages
{
    public const int Minimum = 256;
    const int LineLength = 76; // + CRLF: well under RFC 5322 §2.1.1's 998

    /// <summary>Exactly <paramref name="size"/> bytes with CRLF line ends and no line starting with a dot,
    /// so the bytes on the wire are the bytes the server stores.</summary>
    public static byte[] OfSize(string subject, int size)
    {
        var head = $"From: <sensor@lan.test>\r\nTo: <ops@example.test>\r\nSubject: {subject}\r\n" +
                   $"Message-ID: <{Guid.NewGuid():N}@lan.test>\r\n\r\n";
        if (size < Math.Max(Minimum, head.Length + 2))
            throw new ArgumentOutOfRangeException(nameof(size), $"at least {Math.Max(Minimum, head.Length + 2)} bytes");
        var text = new StringBuilder(size).Append(head);
        while (text.Length < size)
        {
            var room = size - text.Length;
            // The last line takes what is left; a line never ends up shorter than its CRLF.
            var line = room <= LineLength + 2 ? room - 2 : Math.Min(LineLength, room - 2 - 2);
            text.Append('x', line).Append("\r\n");
        }
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>
    /// One mail transaction on an open session: MAIL (with SIZE= when <paramref name="declareSize"/>), RCPT,
    /// DATA, the message, the final dot. Returns the first refusal (MAIL, RCPT or DATA), otherwise the reply
    /// to the end of data. <paramref name="sending"/> runs just before the message bytes go out: from then on the
    /// server may commit the message even if its reply never arrives.
    /// </summary>
    public static async Task<SmtpReply> SendAsync(RawSmtpClient client, byte[] message, bool declareSize = false,
                                                  string sender = "sensor@lan.test", Action? sending = null)
    {
        var mail = await client.CommandAsync($"MAIL FROM:<{sender}>{(declareSize ? $" SIZE={message.Length}" : "")}");
        if (mail.Code != 250) return mail;
        var rcpt = await client.CommandAsync("RCPT TO:<ops@example.test>");
        if (rcpt.Code != 250) return rcpt;
        var data = await client.CommandAsync("DATA");
        if (data.Code != 354) return data;
        sending?.Invoke();
        // Several writes, so a kill can land in the middle of a message as well as between messages.
        for (var offset = 0; offset < message.Length; offset += 16 * 1024)
            await client.SendAsync(message.AsSpan(offset, Math.Min(16 * 1024, message.Length - offset)).ToArray());
        await client.SendAsync(".\r\n");
        return await client.ReadReplyAsync();
    }

    /// <summary>A connected, greeted session (220 read, EHLO answered 250).</summary>
    public static async Task<RawSmtpClient> OpenAsync(System.Net.IPEndPoint server, string helo)
    {
        var client = await RawSmtpClient.ConnectAsync(server);
        try
        {
            var greeting = await client.ReadReplyAsync();
            if (greeting.Code != 220) throw new IOException($"greeting: {greeting}");
            var ehlo = await client.CommandAsync($"EHLO {helo}");
            if (ehlo.Code != 250) throw new IOException($"EHLO: {ehlo}");
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }
}
