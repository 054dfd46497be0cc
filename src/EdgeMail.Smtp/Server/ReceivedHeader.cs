using System.Globalization;
using System.Net;
using System.Text;

namespace EdgeMail.Smtp.Server;

/// <summary>The trace header we prepend (RFC 5321 §4.4, with the protocol names of RFC 3848 and RFC 6531 §3.7.3).</summary>
internal static class ReceivedHeader
{
    public static string Protocol(bool esmtp, bool tls, bool authenticated, bool smtpUtf8)
    {
        if (!esmtp)
            return "SMTP";
        string suffix = (tls ? "S" : "") + (authenticated ? "A" : "");
        return (smtpUtf8 ? "UTF8SMTP" : "ESMTP") + suffix;
    }

    /// <summary>
    /// Received: from helo ([address])
    ///         by host (EdgeMail) with ESMTP id ID
    ///         for &lt;rcpt&gt;; date
    /// We never look up the client's name (no DNS on the receive path), so TCP-info is the address literal alone.
    /// "for" only with exactly one recipient: naming several would leak Bcc recipients to each other (§7.2).
    /// </summary>
    public static byte[] Build(string helo, IPAddress client, string host, string protocol, string id, IReadOnlyList<string> recipients, DateTimeOffset when)
    {
        var sb = new StringBuilder(256);
        sb.Append("Received: from ").Append(helo.Length == 0 ? "unknown" : helo)
          .Append(" (").Append(AddressLiteral(client)).Append(")\r\n");
        sb.Append("\tby ").Append(host).Append(" (EdgeMail) with ").Append(protocol).Append(" id ").Append(id);
        if (recipients.Count == 1)
            sb.Append("\r\n\tfor <").Append(recipients[0]).Append('>');
        sb.Append("; ").Append(Rfc5322Date(when)).Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>RFC 5321 §4.1.3 address literals: [192.0.2.1], [IPv6:2001:db8::1].</summary>
    public static string AddressLiteral(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? "[IPv6:" + address.ToString() + "]"
            : "[" + address.ToString() + "]";
    }

    /// <summary>RFC 5322 §3.3 date-time, e.g. "Tue, 24 Nov 2026 01:10:00 +0000".</summary>
    public static string Rfc5322Date(DateTimeOffset when)
    {
        var utc = when.ToUniversalTime();
        return utc.ToString("ddd, dd MMM yyyy HH:mm:ss", CultureInfo.InvariantCulture) + " +0000";
    }
}
