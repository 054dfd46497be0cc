using System.Net;
using DnsClient;
using DnsClient.Protocol;
using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

internal enum ResolveStatus { Ok, Temporary, Permanent }

/// <summary>The hosts to try for one route, in order; or why there are none.</summary>
internal sealed record Resolution(ResolveStatus Status, IReadOnlyList<DeliveryTarget> Targets, string Reply, string Dsn)
{
    public static Resolution Of(IReadOnlyList<DeliveryTarget> targets) => new(ResolveStatus.Ok, targets, "", "");
}

internal interface ITargetResolver
{
    Task<Resolution> ResolveAsync(Route route, string domain, CancellationToken ct);
}

/// <summary>
/// RFC 5321 §5.1: MX records by preference, random order among equal preferences; no MX → the domain
/// itself as an implicit MX (A/AAAA); RFC 7505 null MX ("0 .") → the domain accepts no mail.
/// Every host name is resolved here, with the configured resolver, so lab DNS (and tests) work end to end.
/// </summary>
internal sealed class MxResolver : ITargetResolver
{
    private const int MaxMxHosts = 10;   // bound the work per domain
    private const int MaxAddresses = 16;
    private static readonly QueryType[] AddressTypes = [QueryType.A, QueryType.AAAA];

    private readonly LookupClientOptions _dnsOptions;
    private LookupClient? _dns;
    private readonly int _port;
    private readonly SmtpClientOptions _options;
    private readonly Random _random;

    public MxResolver(RelayOptions options, Random random)
    {
        var dnsOptions = options.DnsServer is null
            ? new LookupClientOptions()
            : new LookupClientOptions(new NameServer(ParseServer(options.DnsServer)));
        dnsOptions.UseCache = true;
        dnsOptions.Timeout = TimeSpan.FromSeconds(5);
        dnsOptions.Retries = 2;
        dnsOptions.ThrowDnsErrors = false;
        dnsOptions.ContinueOnDnsError = false;
        // The client itself (resolv.conf, caches, sockets) only when a route first needs MX: a daemon that relays to
        // a smarthost never does, and it is idle memory on a Pi.
        _dnsOptions = dnsOptions;
        _port = options.MxPort;
        _random = random;
        // RFC 7435 opportunistic security: MX hosts rarely present certificates that verify for the MX name,
        // and a failed verification must not stop delivery that would otherwise go in clear text.
        _options = options.MxClientOptions ?? new SmtpClientOptions { HeloName = options.HeloName, VerifyCertificate = false };
    }

    private LookupClient Dns => LazyInitializer.EnsureInitialized(ref _dns, () => new LookupClient(_dnsOptions));

    internal static IPEndPoint ParseServer(string server)
    {
        if (IPEndPoint.TryParse(server, out var ep))
        {
            if (ep.Port == 0) ep.Port = 53;
            return ep;
        }
        throw new RelayConfigException($"DNS server '{server}': expected an IP address with optional :port");
    }

    public async Task<Resolution> ResolveAsync(Route route, string domain, CancellationToken ct)
    {
        if (!route.IsMx) return Resolution.Of(route.Upstreams);

        // RFC 5321 §4.1.3: an address literal is delivered to that address, no DNS.
        if (domain.StartsWith('[') && domain.EndsWith(']'))
        {
            var literal = domain[1..^1];
            if (literal.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) literal = literal[5..];
            return IPAddress.TryParse(literal, out var ip)
                ? Resolution.Of([new DeliveryTarget(ip.ToString(), ip.ToString(), _port, TlsMode.Opportunistic, _options)])
                : new Resolution(ResolveStatus.Permanent, [], $"bad address literal {domain}", "5.1.2");
        }

        IDnsQueryResponse mx;
        try
        {
            mx = await Dns.QueryAsync(domain, QueryType.MX, QueryClass.IN, ct).ConfigureAwait(false);
        }
        catch (DnsResponseException e)
        {
            return new Resolution(ResolveStatus.Temporary, [], $"MX lookup for {domain} failed: {e.Message}", "4.4.3");
        }
        if (mx.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            return new Resolution(ResolveStatus.Permanent, [], $"Host or domain name not found. Name service error for name={domain} type=MX: Host not found", "5.1.2");
        if (mx.HasError)
            return new Resolution(ResolveStatus.Temporary, [], $"MX lookup for {domain} failed: {mx.ErrorMessage}", "4.4.3");

        var records = mx.Answers.MxRecords().ToList();
        // RFC 7505 §3: a single MX of "." means the domain accepts no mail; §4.2 suggests 5.1.10.
        if (records.Any(r => r.Exchange.Value is "." or ""))
            return new Resolution(ResolveStatus.Permanent, [], $"Domain {domain} does not accept mail (nullMX)", "5.1.10");

        List<string> hosts;
        if (records.Count == 0)
        {
            hosts = [domain]; // RFC 5321 §5.1: implicit MX
        }
        else
        {
            // By preference, random among equals (RFC 5321 §5.1): shuffle, then a stable sort by preference.
            var shuffled = records.ToArray();
            _random.Shuffle(shuffled);
            hosts = [];
            foreach (var r in shuffled.OrderBy(r => r.Preference))
            {
                if (hosts.Count == MaxMxHosts) break;
                hosts.Add(r.Exchange.Value.TrimEnd('.'));
            }
        }

        var targets = new List<DeliveryTarget>();
        var tempError = false;
        foreach (var host in hosts)
        {
            foreach (var type in AddressTypes)
            {
                IDnsQueryResponse r;
                try { r = await Dns.QueryAsync(host, type, QueryClass.IN, ct).ConfigureAwait(false); }
                catch (DnsResponseException) { tempError = true; continue; }
                if (r.HasError)
                {
                    if (r.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain) tempError = true;
                    continue;
                }
                foreach (var rec in r.Answers)
                {
                    var ip = rec switch { ARecord a => a.Address, AaaaRecord a => a.Address, _ => null };
                    if (ip is not null && targets.Count < MaxAddresses)
                        targets.Add(new DeliveryTarget(host, ip.ToString(), _port, TlsMode.Opportunistic, _options));
                }
            }
        }
        if (targets.Count > 0) return Resolution.Of(targets);
        if (records.Count == 0 && !tempError)
            return new Resolution(ResolveStatus.Permanent, [], $"Host or domain name not found. Name service error for name={domain} type=A: Host not found", "5.1.2");
        return new Resolution(ResolveStatus.Temporary, [], $"no address found for the mail exchangers of {domain}", "4.4.3");
    }
}
