using System.Globalization;
using System.Net;

namespace EdgeMail.Config;

/// <summary>
/// HOST:PORT for a listening socket. HOST is an IP literal (IPv6 in brackets, RFC 3986 style) or
/// "localhost"; names are not resolved, so start-up never depends on DNS. Port 0 asks the kernel
/// for a free port (tests read the real one from the "listening on" line).
/// </summary>
public static class ListenAddress
{
    public const string Allowed =
        "\"HOST:PORT\" with HOST an IPv4 address, an IPv6 address in brackets ([::1]) or localhost, and PORT 0-65535";

    public static string? TryParse(string text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            return $"\"{text}\" is not HOST:PORT";
        string host = text[..colon];
        string port = text[(colon + 1)..];
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber > 65535)
            return $"\"{text}\" has an invalid port \"{port}\"";

        IPAddress? address;
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (!IPAddress.TryParse(host.AsSpan(1, host.Length - 2), out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                return $"\"{text}\" has an invalid IPv6 address {host}";
        }
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (host.Contains(':'))
        {
            return $"\"{text}\": an IPv6 address must be written in brackets, e.g. [::1]:25";
        }
        else if (!IsDottedQuad(host) || !IPAddress.TryParse(host, out address))
        {
            return $"\"{text}\" has an invalid host \"{host}\" (names are not resolved; use an IP address)";
        }
        endPoint = new IPEndPoint(address, portNumber);
        return null;
    }

    /// <summary>"127.0.0.1:2525", "[::1]:2525" — the form the "listening on" line and the tests use.</summary>
    public static string Format(IPEndPoint endPoint)
    {
        IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{address}]:{endPoint.Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{address}:{endPoint.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    // IPAddress.TryParse accepts "1", "1.2" and "0x7f.1" (inet_aton forms); a config file should not.
    private static bool IsDottedQuad(string host)
    {
        int parts = 0;
        foreach (string part in host.Split('.'))
        {
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit)) return false;
            parts++;
        }
        return parts == 4;
    }
}
