using System.Globalization;

namespace EdgeMail.Config;

public enum RelaySecurity
{
    /// <summary>smtp:// — STARTTLS when the upstream offers it (default port 25).</summary>
    Opportunistic,
    /// <summary>smtp+starttls:// — STARTTLS required (default port 587, RFC 6409).</summary>
    StartTls,
    /// <summary>smtps:// — TLS from the first byte (default port 465, RFC 8314).</summary>
    ImplicitTls,
}

/// <summary>
/// One upstream (smarthost) from --relay or [relay] upstream. Credentials are never part of the URL:
/// a command line is visible to every local user in /proc, so user:password@ is refused here.
/// </summary>
public sealed record RelayUpstream(RelaySecurity Security, string Host, int Port)
{
    public const string Allowed =
        "smtp://HOST[:PORT] (STARTTLS when offered, port 25), smtp+starttls://HOST[:PORT] (STARTTLS required, port 587) "
        + "or smtps://HOST[:PORT] (implicit TLS, port 465); no user, password, path or query";

    private static readonly (string Scheme, RelaySecurity Security, int DefaultPort)[] Schemes =
    [
        ("smtp", RelaySecurity.Opportunistic, 25),
        ("smtp+starttls", RelaySecurity.StartTls, 587),
        ("smtps", RelaySecurity.ImplicitTls, 465),
    ];

    public static string? TryParse(string text, out RelayUpstream upstream)
    {
        upstream = null!;
        int sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
            return $"\"{text}\" is not a URL";
        string scheme = text[..sep].ToLowerInvariant();
        int schemeIndex = Array.FindIndex(Schemes, s => s.Scheme == scheme);
        if (schemeIndex < 0)
            return $"\"{text}\" has an unsupported scheme \"{text[..sep]}\"";

        string rest = text[(sep + 3)..];
        if (rest.EndsWith('/')) rest = rest[..^1];
        if (rest.Contains('@'))
            return $"\"{text}\" contains credentials; put them in the config file, never in the URL";
        if (rest.IndexOfAny(['/', '?', '#']) >= 0)
            return $"\"{text}\" has a path, query or fragment";
        if (rest.Length == 0)
            return $"\"{text}\" has no host";

        string host;
        string? port = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            if (close < 0 || !System.Net.IPAddress.TryParse(rest.AsSpan(1, close - 1), out _))
                return $"\"{text}\" has an invalid IPv6 host";
            host = rest[1..close];
            string after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':') return $"\"{text}\" has junk after the host";
                port = after[1..];
            }
        }
        else
        {
            int colon = rest.IndexOf(':');
            host = colon < 0 ? rest : rest[..colon];
            port = colon < 0 ? null : rest[(colon + 1)..];
            if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
                return $"\"{text}\" has an invalid host \"{host}\"";
        }

        int portNumber = Schemes[schemeIndex].DefaultPort;
        if (port is not null
            && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber is < 1 or > 65535))
            return $"\"{text}\" has an invalid port \"{port}\"";

        upstream = new RelayUpstream(Schemes[schemeIndex].Security, host.ToLowerInvariant(), portNumber);
        return null;
    }

    public override string ToString()
    {
        string scheme = Array.Find(Schemes, s => s.Security == Security).Scheme;
        string host = Host.Contains(':') ? $"[{Host}]" : Host;
        return $"{scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}";
    }
}
