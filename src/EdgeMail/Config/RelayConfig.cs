using System.Globalization;
using System.Net;
using UpstreamUrl = EdgeMail.Relay.Upstream;

namespace EdgeMail.Config;

/// <summary>[relay] — where queued mail goes, how often it is retried and with which credentials.</summary>
public sealed class RelayConfig
{
    public List<string> Upstream { get; set; } = [];
    /// <summary>"PATTERN [URL ...]" per line, first match wins; no URL = direct MX delivery for that pattern.</summary>
    public List<string> Routes { get; set; } = [];
    public int FirstRetry { get; set; } = 300;
    public int BackoffFactor { get; set; } = 2;
    public int MaxRetry { get; set; } = 4200;
    public int MaxQueueLifetime { get; set; } = 432_000;
    public int DelayWarning { get; set; }
    public int MaxConnections { get; set; } = 4;
    public int MaxConnectionsPerRoute { get; set; } = 2;
    public string DnsServer { get; set; } = "";
    public int MxPort { get; set; } = 25;
    public string HeloName { get; set; } = "";
    public string SecretsFile { get; set; } = "";
    public string CaFile { get; set; } = "";
    public string PinnedSha256 { get; set; } = "";
    /// <summary>[relay.tls."URL"] — certificate checks for one upstream, keyed by its URL exactly as written in
    /// upstream or routes (the secrets file keys credentials the same way). An upstream with an entry uses the
    /// entry's ca_file and pinned_sha256 only; the others use the [relay] ca_file and pinned_sha256.</summary>
    public Dictionary<string, RelayTlsEntry> Tls { get; set; } = new(StringComparer.Ordinal);
    /// <summary>With no upstream and no route, deliver to each domain's MX (RFC 5321 §5.1) — issue 3's default;
    /// false holds mail in the queue until an upstream is configured (links that block port 25).</summary>
    public bool MxDelivery { get; set; } = true;

    /// <summary>Whether the relay runs at all: an upstream, a route, or direct MX delivery asked for.</summary>
    public bool Delivers() => Upstream.Count > 0 || Routes.Count > 0 || MxDelivery;

    public const string RouteAllowed =
        "\"PATTERN [URL ...]\": PATTERN is *, *.DOMAIN or DOMAIN; each URL as in upstream; no URL = direct MX delivery";
    public const string DnsAllowed = "an IP address with an optional port: \"192.168.1.1\", \"127.0.0.1:5353\", \"[::1]:53\"";

    public static ConfigSection Schema { get; } = new("relay",
    [
        new("upstream", ConfigValueType.ListOf(ConfigValueType.Text(CheckUpstream, UpstreamUrl.Allowed))),
        new("routes", ConfigValueType.ListOf(ConfigValueType.Text(CheckRoute, RouteAllowed))),
        new("first_retry", ConfigValueType.Seconds(1, 86_400)),
        new("backoff_factor", ConfigValueType.Integer(1, 10)),
        new("max_retry", ConfigValueType.Seconds(1, 7 * 86_400)),
        new("max_queue_lifetime", ConfigValueType.Seconds(60, 60 * 86_400)),
        new("delay_warning", ConfigValueType.Seconds(0, 60 * 86_400)),
        new("max_connections", ConfigValueType.Integer(1, 1000)),
        new("max_connections_per_route", ConfigValueType.Integer(1, 1000)),
        new("dns_server", ConfigValueType.Text(s => s.Length == 0 ? null : CheckDnsServer(s), DnsAllowed + ", or \"\" for the system's resolvers")),
        new("mx_port", ConfigValueType.Integer(1, 65535)),
        new("helo_name", ConfigValueType.Text(ServerConfig.CheckHostname, "a host name, or \"\" for [server] hostname")),
        new("secrets_file", ConfigValueType.Text(_ => null, "a path to an owner-only (chmod 600) file, or \"\" for none")),
        new("ca_file", RelayTlsEntry.CaFileType),
        new("pinned_sha256", RelayTlsEntry.PinType),
        new("mx_delivery", ConfigValueType.Boolean),
        new("tls", ConfigValueType.TableOf(RelayTlsEntry.Keys, CheckUpstream, "an upstream URL as written in upstream or routes")),
    ]);

    /// <summary>The upstreams in failover order (already validated by the schema or the CLI).</summary>
    public IReadOnlyList<UpstreamUrl> Upstreams()
    {
        var upstreams = new List<UpstreamUrl>(Upstream.Count);
        foreach (string text in Upstream)
        {
            if (!UpstreamUrl.TryParse(text, out UpstreamUrl upstream, out string error))
                throw new ConfigException("relay.upstream", error, UpstreamUrl.Allowed);
            upstreams.Add(upstream);
        }
        return upstreams;
    }

    /// <summary>The routes as (pattern, upstream URLs), in order.</summary>
    public IReadOnlyList<(string Pattern, IReadOnlyList<string> Urls)> RouteList()
    {
        var routes = new List<(string, IReadOnlyList<string>)>();
        foreach (string text in Routes)
        {
            if (CheckRoute(text) is { } error) throw new ConfigException("relay.routes", error, RouteAllowed);
            string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            routes.Add((parts[0], parts[1..]));
        }
        return routes;
    }

    /// <summary>A [relay.tls."URL"] entry must name an upstream that is used: a typo in the URL would otherwise
    /// leave the upstream on the default checks without a word.</summary>
    internal void Validate(ConfigLocations locations)
    {
        if (Tls.Count == 0) return;
        var used = new List<string>(Upstream);
        foreach (string route in Routes)
        {
            string[] parts = route.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 1; i < parts.Length; i++)
                if (!used.Contains(parts[i])) used.Add(parts[i]);
        }
        foreach (string url in Tls.Keys)
        {
            if (used.Contains(url)) continue;
            throw locations.Error("relay", -1, "tls." + url, $"relay.tls.\"{url}\"",
                $"\"{url}\" is not an upstream in [relay] upstream or routes",
                used.Count == 0 ? "no upstream is configured" : "one of " + string.Join(", ", used.Select(u => $"\"{u}\"")));
        }
    }

    internal static string? CheckRoute(string text)
    {
        string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return "the route is empty";
        string pattern = parts[0];
        string rest = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
        if (pattern != "*" && (rest.Length == 0 || rest.Contains('*') || ServerConfig.CheckHostname(rest) is not null))
            return $"\"{pattern}\" is not *, *.DOMAIN or DOMAIN";
        foreach (string url in parts.AsSpan(1))
            if (CheckUpstream(url) is { } error) return error;
        return null;
    }

    internal static string? CheckUpstream(string url) => UpstreamUrl.TryParse(url, out _, out string error) ? null : error;

    public static string? CheckDnsServer(string text)
    {
        if (IPEndPoint.TryParse(text, out IPEndPoint? endPoint) && endPoint.Port is >= 0 and <= 65535) return null;
        return $"\"{text}\" is not an IP address with an optional port";
    }

    internal static string? CheckFingerprint(string text)
    {
        string hex = text.Replace(":", "", StringComparison.Ordinal);
        return hex.Length == 0 || (hex.Length == 64 && hex.All(char.IsAsciiHexDigit)) ? null : $"\"{text}\" is not a SHA-256 fingerprint";
    }

    internal static string FormatPort(int port) => port.ToString(CultureInfo.InvariantCulture);
}

/// <summary>[relay.tls."URL"] — how one upstream's certificate is checked.</summary>
public sealed class RelayTlsEntry
{
    /// <summary>Extra trusted CA certificate(s), PEM, besides the system's.</summary>
    public string CaFile { get; set; } = "";
    /// <summary>SHA-256 of the upstream's certificate; when set it alone decides.</summary>
    public string PinnedSha256 { get; set; } = "";

    internal static readonly ConfigValueType CaFileType =
        ConfigValueType.Text(_ => null, "a path to a PEM file, or \"\" for the system's CAs");
    internal static readonly ConfigValueType PinType =
        ConfigValueType.Text(RelayConfig.CheckFingerprint, "64 hex digits (colons allowed), or \"\"");

    internal static IReadOnlyList<ConfigKey> Keys { get; } = [new("ca_file", CaFileType), new("pinned_sha256", PinType)];
}
