using System.Net;
using EdgeMail.Config;
using EdgeMail.Device;
using EdgeMail.Relay;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Hosting;

/// <summary>Config → the libraries' option objects. Pure functions, so every mapping is testable without sockets.</summary>
public static class Composition
{
    /// <summary>Relay control, AUTH and rate limits onto <paramref name="options"/>; the certificate is set by the caller
    /// (it may need to be generated, which is I/O).</summary>
    /// <exception cref="UsersFileException"/>
    public static void ApplySecurity(EdgeMailConfig config, SmtpServerOptions options, ILogger? usersLog = null)
    {
        var perUser = new Dictionary<string, RelayRestrictions>(StringComparer.OrdinalIgnoreCase);
        var perNetwork = new Dictionary<string, RelayRestrictions>(StringComparer.Ordinal);
        foreach (var (who, isNetwork, domains) in PolicyConfig.Entries(config.Policy.SenderDomains))
        {
            var list = new DomainList(domains);
            if (isNetwork) perNetwork[who] = (perNetwork.GetValueOrDefault(who) ?? new()) with { Senders = list };
            else perUser[who] = (perUser.GetValueOrDefault(who) ?? new()) with { Senders = list };
        }
        foreach (var (who, isNetwork, domains) in PolicyConfig.Entries(config.Policy.RecipientDomains))
        {
            var list = new DomainList(domains);
            if (isNetwork) perNetwork[who] = (perNetwork.GetValueOrDefault(who) ?? new()) with { Recipients = list };
            else perUser[who] = (perUser.GetValueOrDefault(who) ?? new()) with { Recipients = list };
        }

        options.Policy = new RelayPolicy(new RelayPolicyOptions
        {
            AllowedNetworks = NetworkList.Parse(config.Policy.AllowedNetworks),
            PlaintextAuthNetworks = NetworkList.Parse(config.Auth.PlaintextNetworks),
            LocalDomains = new DomainList(config.Policy.LocalDomains),
            PerUser = perUser,
            PerNetwork = perNetwork.Select(p => (NetworkList.ParseOne(p.Key), p.Value)).ToList(),
        });
        options.Users = config.Auth.UsersFile.Length > 0 ? new UserStore(config.Auth.UsersFile, usersLog) : null;
        LimitsConfig limits = config.Limits;
        options.Limits = limits.Any()
            ? new RateLimiter(new RateLimitOptions
            {
                // 0 in the file = no limit; the limiter has no "off", so an unreachable rate stands in for it.
                MessagesPerMinutePerAddress = limits.MessagesPerMinutePerAddress > 0 ? limits.MessagesPerMinutePerAddress : 1_000_000_000,
                MessagesPerMinutePerUser = limits.MessagesPerMinutePerUser > 0 ? limits.MessagesPerMinutePerUser : 1_000_000_000,
                ConnectionsPerAddress = limits.ConnectionsPerAddress > 0 ? limits.ConnectionsPerAddress : 1_000_000,
            })
            : null;
        options.Throttle = new AuthThrottle();
    }

    /// <summary>Plain listeners from [server] listen, implicit-TLS ones from [tls] implicit_listen.</summary>
    public static IReadOnlyList<ListenerEndpoint> Endpoints(EdgeMailConfig config)
    {
        var endpoints = new List<ListenerEndpoint>();
        foreach (IPEndPoint endPoint in config.Server.ListenEndPoints())
            endpoints.Add(new ListenerEndpoint(endPoint));
        foreach (string text in config.Tls.ImplicitListen)
        {
            if (ListenAddress.TryParse(text, out IPEndPoint endPoint) is { } error)
                throw new ConfigException("tls.implicit_listen", error, ListenAddress.Allowed);
            endpoints.Add(new ListenerEndpoint(endPoint, ImplicitTls: true));
        }
        return endpoints;
    }

    /// <summary>[[leds]], [leds_timing], [alerts], [[sensors]] and [[rules]]; alert subjects name
    /// <paramref name="hostName"/> (the SMTP host name) unless [alerts] hostname says otherwise.</summary>
    public static DeviceOptions Device(EdgeMailConfig config, string hostName) => DeviceSections.ToOptions(config, hostName);

    public static RelayOptions Relay(EdgeMailConfig config, string heloName)
    {
        RelayConfig relay = config.Relay;
        // An upstream with its own [relay.tls."URL"] entry is checked by that entry alone; the rest by [relay]'s keys.
        UpstreamOptions Upstream(string url)
        {
            (string caFile, string pin) = relay.Tls.TryGetValue(url, out RelayTlsEntry? own)
                ? (own.CaFile, own.PinnedSha256)
                : (relay.CaFile, relay.PinnedSha256);
            return new()
            {
                Url = url,
                CaFile = caFile.Length > 0 ? caFile : null,
                PinnedSha256 = pin.Length > 0 ? pin.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant() : null,
            };
        }
        return new RelayOptions
        {
            Upstreams = relay.Upstream.Select(Upstream).ToList(),
            Routes = relay.RouteList().Select(r => new RouteRule { Pattern = r.Pattern, Upstreams = r.Urls.Select(Upstream).ToList() }).ToList(),
            FirstRetry = TimeSpan.FromSeconds(relay.FirstRetry),
            BackoffFactor = relay.BackoffFactor,
            MaxRetry = TimeSpan.FromSeconds(relay.MaxRetry),
            MaxQueueLifetime = TimeSpan.FromSeconds(relay.MaxQueueLifetime),
            DelayWarning = relay.DelayWarning > 0 ? TimeSpan.FromSeconds(relay.DelayWarning) : null,
            MaxConnections = relay.MaxConnections,
            MaxConnectionsPerRoute = relay.MaxConnectionsPerRoute,
            DnsServer = relay.DnsServer.Length > 0 ? relay.DnsServer : null,
            MxPort = relay.MxPort,
            HeloName = relay.HeloName.Length > 0 ? relay.HeloName : heloName,
            SecretsFile = relay.SecretsFile.Length > 0 ? relay.SecretsFile : null,
        };
    }
}
