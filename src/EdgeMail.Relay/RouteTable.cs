using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

/// <summary>Where one recipient domain goes: a list of upstreams tried in order, or direct MX. <see cref="Name"/> is
/// how `edgemail status` calls it: "default", the rule's pattern, or (MX) the key.</summary>
internal sealed record Route(string Key, IReadOnlyList<DeliveryTarget> Upstreams, string Name = "")
{
    public bool IsMx => Upstreams.Count == 0;
}

/// <summary>A host we may connect to. <see cref="Address"/> is what we dial (an IP for MX, the name for upstreams).</summary>
internal sealed record DeliveryTarget(string Host, string Address, int Port, TlsMode Tls, SmtpClientOptions Options)
{
    public string Display => $"{Host}[{Address}]:{Port}";
}

/// <summary>The routing table: per-domain rules first (first match wins), then the default upstreams, then MX.</summary>
internal sealed class RouteTable
{
    private readonly (string Pattern, Route Route)[] _rules;
    private readonly Route _default;

    /// <summary>The routes with upstreams (the default one first, then the rules): listed by the health table
    /// before anything was sent.</summary>
    public List<Route> Configured { get; } = [];

    public RouteTable(RelayOptions options, RelaySecrets secrets)
    {
        var rules = new List<(string, Route)>();
        for (var i = 0; i < options.Routes.Count; i++)
        {
            var rule = options.Routes[i];
            ValidatePattern(rule.Pattern);
            var targets = Targets(rule.Upstreams, options, secrets);
            var route = new Route(targets.Count == 0 ? "mx" : "route" + i, targets, rule.Pattern);
            rules.Add((rule.Pattern.ToLowerInvariant(), route));
            if (!route.IsMx) Configured.Add(route);
        }
        _rules = rules.ToArray();
        var defaults = Targets(options.Upstreams, options, secrets);
        _default = new Route(defaults.Count == 0 ? "mx" : "default", defaults, "default");
        if (!_default.IsMx) Configured.Insert(0, _default);
    }

    /// <summary>The route for a recipient domain. MX routes get a key per domain, since each domain has its own hosts.</summary>
    public Route Resolve(string domain)
    {
        var route = _default;
        foreach (var (pattern, r) in _rules)
        {
            if (Matches(pattern, domain)) { route = r; break; }
        }
        return route.IsMx ? route with { Key = "mx:" + domain.ToLowerInvariant() } : route;
    }

    internal static bool Matches(string pattern, string domain)
    {
        if (pattern == "*") return true;
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
            return domain.EndsWith(pattern.AsSpan(1), StringComparison.OrdinalIgnoreCase);
        return string.Equals(pattern, domain, StringComparison.OrdinalIgnoreCase);
    }

    private static void ValidatePattern(string pattern)
    {
        var rest = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
        if (pattern != "*" && (rest.Length == 0 || rest.Contains('*')))
            throw new RelayConfigException($"route pattern '{pattern}': expected '*', '*.domain' or 'domain'");
    }

    private static List<DeliveryTarget> Targets(IReadOnlyList<UpstreamOptions> upstreams, RelayOptions options, RelaySecrets secrets)
    {
        var list = new List<DeliveryTarget>();
        foreach (var u in upstreams)
        {
            var parsed = Upstream.Parse(u.Url);
            var client = ClientOptions(u, options, secrets);
            // Read now, not on the first connection: a missing CA file would otherwise defer mail quietly.
            if (client.CheckCertificateSettings() is { } problem)
                throw new RelayConfigException($"upstream {u.Url}: {problem}");
            list.Add(new DeliveryTarget(parsed.Host, parsed.Host, parsed.Port, parsed.Tls, client));
        }
        return list;
    }

    internal static SmtpClientOptions ClientOptions(UpstreamOptions u, RelayOptions options, RelaySecrets secrets)
    {
        if (u.Client is not null) return u.Client;
        var s = secrets.For(u.Url);
        var user = s?.User ?? u.User;
        var oauth = s?.OAuth2 ?? u.OAuth2;
        SmtpCredentials? credentials = null;
        if (oauth is not null)
        {
            if (user is null) throw new RelayConfigException($"upstream '{u.Url}': XOAUTH2 needs a user");
            var source = new OAuth2TokenSource(new Uri(oauth.TokenEndpoint), oauth.ClientId, oauth.ClientSecret, oauth.RefreshToken);
            credentials = new OAuth2Credentials(user, source.GetAccessTokenAsync);
        }
        else if (user is not null)
        {
            var password = s?.Password ?? u.Password
                ?? throw new RelayConfigException($"upstream '{u.Url}': user '{user}' has no password");
            credentials = new PasswordCredentials(user, password);
        }
        return new SmtpClientOptions
        {
            HeloName = options.HeloName,
            CaFile = u.CaFile,
            PinnedSha256 = u.PinnedSha256,
            VerifyCertificate = u.VerifyCertificate,
            Credentials = credentials,
        };
    }
}
