using System.Globalization;
using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

/// <summary>
/// A parsed upstream URL (--relay, [relay] upstream, a route's URLs). The scheme table is the whole rule:
/// scheme → TLS mode and default port. This is the only parser of these URLs: the config checks and the
/// command line use <see cref="TryParse"/>, so a URL the config accepts is one the relay can dial.
/// Credentials are never part of the URL: a command line is visible to every local user in /proc, so
/// user:password@ is refused (and never echoed back).
/// </summary>
public sealed record Upstream(string Url, string Host, int Port, TlsMode Tls)
{
    public const string Allowed =
        "smtp://HOST[:PORT] (STARTTLS when offered, port 25), smtp+starttls://HOST[:PORT] (STARTTLS required, port 587) "
        + "or smtps://HOST[:PORT] (implicit TLS, port 465); no user, password, path or query";

    private static readonly (string Scheme, TlsMode Tls, int Port)[] Schemes =
    [
        ("smtp", TlsMode.Opportunistic, 25),
        ("smtp+starttls", TlsMode.StartTlsRequired, 587),
        ("smtps", TlsMode.Implicit, 465),
    ];

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong with it,
    /// quoting the URL without any user or password it carried.</summary>
    public static bool TryParse(string text, out Upstream upstream, out string error)
    {
        upstream = null!;
        error = Check(text, out string host, out int port, out TlsMode tls) ?? "";
        if (error.Length > 0) return false;
        upstream = new Upstream(text, host, port, tls);
        return true;
    }

    /// <exception cref="RelayConfigException">the URL is not one of <see cref="Allowed"/>.</exception>
    public static Upstream Parse(string text) =>
        TryParse(text, out Upstream upstream, out string error) ? upstream : throw new RelayConfigException("upstream " + error);

    private static string? Check(string text, out string host, out int portNumber, out TlsMode tls)
    {
        host = "";
        portNumber = 0;
        tls = TlsMode.None;
        int sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
            return $"\"{Redact(text, 0)}\" is not a URL";
        string shown = Redact(text, sep + 3);
        string scheme = text[..sep];
        int index = -1;
        for (int i = 0; i < Schemes.Length; i++)
            if (string.Equals(Schemes[i].Scheme, scheme, StringComparison.OrdinalIgnoreCase)) index = i;
        if (index < 0)
            return $"\"{shown}\" has an unsupported scheme \"{scheme}\"";

        string rest = text[(sep + 3)..];
        if (rest.EndsWith('/')) rest = rest[..^1];
        if (rest.Contains('@'))
            return $"\"{shown}\" contains credentials; put them in the secrets file, never in the URL";
        if (rest.IndexOfAny(['/', '?', '#']) >= 0)
            return $"\"{shown}\" has a path, query or fragment";
        if (rest.Length == 0)
            return $"\"{shown}\" has no host";

        string? port = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            if (close < 0 || !System.Net.IPAddress.TryParse(rest.AsSpan(1, close - 1), out _))
                return $"\"{shown}\" has an invalid IPv6 host";
            host = rest[1..close];
            string after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':') return $"\"{shown}\" has junk after the host";
                port = after[1..];
            }
        }
        else
        {
            int colon = rest.IndexOf(':');
            host = colon < 0 ? rest : rest[..colon];
            port = colon < 0 ? null : rest[(colon + 1)..];
            if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
                return $"\"{shown}\" has an invalid host \"{host}\"";
        }

        portNumber = Schemes[index].Port;
        if (port is not null
            && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber is < 1 or > 65535))
            return $"\"{shown}\" has an invalid port \"{port}\"";
        host = host.ToLowerInvariant();
        tls = Schemes[index].Tls;
        return null;
    }

    /// <summary>The URL as it may be quoted in an error: whatever precedes an '@' after <paramref name="from"/>
    /// (a user, perhaps a password) is left out.</summary>
    private static string Redact(string text, int from)
    {
        int at = text.LastIndexOf('@');
        return at < from ? text : string.Concat(text.AsSpan(0, from), "…", text.AsSpan(at));
    }

    /// <summary>The canonical form, with the port spelled out: smtp+starttls://smtp.example.com:587.</summary>
    public override string ToString()
    {
        string scheme = "smtp";
        foreach (var s in Schemes)
            if (s.Tls == Tls) scheme = s.Scheme;
        string host = Host.Contains(':') ? $"[{Host}]" : Host;
        return $"{scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}";
    }
}
