using System.Text;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>Test messages as the exact bytes a client puts on the wire before dot-stuffing (CRLF line ends).</summary>
static class Messages
{
    public static byte[] Plain(string subject, string from = "sensor@lan.test", string to = "ops@example.test")
    {
        var text = new StringBuilder()
            .Append($"From: <{from}>\r\n")
            .Append($"To: <{to}>\r\n")
            .Append($"Subject: {subject}\r\n")
            .Append("Message-ID: <").Append(Guid.NewGuid().ToString("N")).Append("@lan.test>\r\n")
            .Append("\r\n")
            .Append("Line one of the body.\r\n")
            // A line that starts with a dot: the client stuffs it, the server must unstuff it (RFC 5321 §4.5.2).
            .Append(".a line that starts with a dot\r\n")
            .Append("Last line.\r\n")
            .ToString();
        return Encoding.ASCII.GetBytes(text);
    }
}
