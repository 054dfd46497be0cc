using EdgeMail.Smtp.Replies;
using System.Net;
using System.Net.Sockets;

namespace EdgeMail.Smtp.Security;

/// <summary>A list of CIDR networks; IPv4-mapped IPv6 clients (::ffff:a.b.c.d on a dual-stack socket) match their IPv4 networks.</summary>
public sealed class NetworkList
{
    private readonly IPNetwork[] _networks;

    public NetworkList(IEnumerable<IPNetwork> networks) => _networks = networks.Select(Canonical).ToArray();

    public static NetworkList Empty { get; } = new([]);

    /// <summary>The default for allowed networks: loopback only.</summary>
    public static NetworkList Loopback { get; } = Parse(["127.0.0.0/8", "::1/128"]);

    /// <summary>Parses "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Throws FormatException naming the bad entry.</summary>
    public static NetworkList Parse(IEnumerable<string> cidrs) => new(cidrs.Select(ParseOne));

    public static IPNetwork ParseOne(string text)
    {
        string t = text.Trim();
        if (!t.Contains('/') && IPAddress.TryParse(t, out var single))
        {
            single = Normalize(single);
            return new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        }
        if (!IPNetwork.TryParse(t, out var network)) throw new FormatException($"'{text}' is not a network in CIDR notation (like 192.168.1.0/24)");
        // Host bits set ("10.1.2.3/8") is most likely a typo for a narrower network: report it rather than widen it.
        if (!IPAddress.TryParse(t.AsSpan(0, t.IndexOf('/')), out var given) || !given.Equals(network.BaseAddress))
            throw new FormatException($"'{text}' has host bits set; did you mean {network}?");
        return Canonical(network);
    }

    public IReadOnlyList<IPNetwork> Networks => _networks;

    public bool Contains(IPAddress address) => LongestMatch(address) is not null;

    /// <summary>The most specific network containing the address, or null.</summary>
    public IPNetwork? LongestMatch(IPAddress address)
    {
        var a = Normalize(address);
        IPNetwork? best = null;
        foreach (var n in _networks)
            if (n.Contains(a) && (best is null || n.PrefixLength > best.Value.PrefixLength)) best = n;
        return best;
    }

    /// <summary>::ffff:a.b.c.d → a.b.c.d, so one rule covers both socket kinds. Scope ids are dropped.</summary>
    public static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0) return new IPAddress(address.GetAddressBytes());
        return address;
    }

    private static IPNetwork Canonical(IPNetwork n) =>
        n.BaseAddress.IsIPv4MappedToIPv6 && n.PrefixLength >= 96
            ? new IPNetwork(n.BaseAddress.MapToIPv4(), n.PrefixLength - 96)
            : n;
}

/// <summary>Domain allow-list: "example.com" matches exactly, ".example.com" matches any subdomain. ASCII case-insensitive.</summary>
public sealed class DomainList
{
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _suffixes = [];

    public DomainList(IEnumerable<string> domains)
    {
        foreach (var raw in domains)
        {
            string d = raw.Trim().TrimEnd('.');
            if (d.Length == 0) continue;
            if (d[0] == '.') _suffixes.Add(d); else _exact.Add(d);
        }
    }

    public bool Matches(string domain)
    {
        string d = domain.TrimEnd('.');
        if (d.Length == 0) return false; // the null sender has no domain: never on an allow-list
        if (_exact.Contains(d)) return true;
        foreach (var s in _suffixes)
            if (d.Length > s.Length && d.EndsWith(s, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

/// <summary>Optional restrictions for one user or one network; a null list means "no restriction".</summary>
public sealed record RelayRestrictions(DomainList? Senders = null, DomainList? Recipients = null);

public sealed class RelayPolicyOptions
{
    /// <summary>Clients that may relay without AUTH (`--allow-net`). Default loopback only.</summary>
    public NetworkList AllowedNetworks { get; init; } = NetworkList.Loopback;
    /// <summary>Networks where AUTH may be used without TLS (old appliances). Empty by default.</summary>
    public NetworkList PlaintextAuthNetworks { get; init; } = NetworkList.Empty;
    /// <summary>Domains this server accepts mail for; any client may send to them.</summary>
    public DomainList LocalDomains { get; init; } = new([]);
    public IReadOnlyDictionary<string, RelayRestrictions> PerUser { get; init; } = new Dictionary<string, RelayRestrictions>(StringComparer.OrdinalIgnoreCase);
    /// <summary>Restrictions per allowed network; the most specific matching network applies.</summary>
    public IReadOnlyList<(IPNetwork Network, RelayRestrictions Restrictions)> PerNetwork { get; init; } = [];
}

public enum RelayDecision { Accept, RelayDenied, SenderNotAllowed, RecipientNotAllowed }

public enum AuthPermission { Allowed, EncryptionRequired }

/// <summary>
/// No open relay, ever (RFC 5321 §3.6.2, RFC 2505). The whole policy is <see cref="Decide"/>:
///
///   who is asking                    | sender domain      | recipient domain            | decision
///   ---------------------------------+--------------------+-----------------------------+---------------------------
///   nobody (outside allowed nets,    | any                | local                       | accept
///     not authenticated)             | any                | not local                   | 554 5.7.1 relay denied
///   authenticated user, else a       | not on its list    | any                         | 550 5.7.1 sender not allowed
///     client in an allowed network   | on its list/no list| local                       | accept
///     (the user's restrictions win;  | on its list/no list| on its list / no list       | accept
///     a network's are the most       | on its list/no list| not local, not on its list  | 550 5.7.1 recipient not allowed
///     specific matching entry)       |                    |                             |
///
/// The session asks once per RCPT (the sender is known by then) and maps the decision with <see cref="ReplyFor"/>.
/// </summary>
public sealed class RelayPolicy(RelayPolicyOptions options)
{
    public RelayPolicyOptions Options { get; } = options;

    public RelayDecision Decide(IPAddress client, string? authenticatedUser, string senderDomain, string recipientDomain)
    {
        bool local = Options.LocalDomains.Matches(recipientDomain);
        RelayRestrictions? restrictions;
        if (authenticatedUser is not null)
        {
            restrictions = Options.PerUser.TryGetValue(authenticatedUser, out var r) ? r : null;
        }
        else if (Options.AllowedNetworks.Contains(client))
        {
            restrictions = NetworkRestrictions(client);
        }
        else
        {
            // An anonymous outsider may only deliver to us.
            return local ? RelayDecision.Accept : RelayDecision.RelayDenied;
        }

        if (restrictions?.Senders is { } senders && !senders.Matches(senderDomain)) return RelayDecision.SenderNotAllowed;
        if (local) return RelayDecision.Accept;
        if (restrictions?.Recipients is { } recipients && !recipients.Matches(recipientDomain)) return RelayDecision.RecipientNotAllowed;
        return RelayDecision.Accept;
    }

    /// <summary>
    /// RFC 4954 §4 / RFC 3207: AUTH over plaintext exposes the password, so outside the plaintext-AUTH
    /// networks it needs TLS first (530 5.7.0). The session also leaves AUTH out of EHLO then.
    /// </summary>
    public AuthPermission MayAuthenticate(IPAddress client, bool tlsActive) =>
        tlsActive || Options.PlaintextAuthNetworks.Contains(client) ? AuthPermission.Allowed : AuthPermission.EncryptionRequired;

    public static SmtpReplyKind? ReplyFor(RelayDecision decision) => decision switch
    {
        RelayDecision.Accept => null,
        RelayDecision.RelayDenied => SmtpReplyKind.RelayDenied,
        RelayDecision.SenderNotAllowed => SmtpReplyKind.SenderNotAllowed,
        RelayDecision.RecipientNotAllowed => SmtpReplyKind.RecipientNotAllowed,
        _ => throw new ArgumentOutOfRangeException(nameof(decision)),
    };

    public static SmtpReplyKind? ReplyFor(AuthPermission permission) =>
        permission == AuthPermission.Allowed ? null : SmtpReplyKind.EncryptionRequired;

    private RelayRestrictions? NetworkRestrictions(IPAddress client)
    {
        var a = NetworkList.Normalize(client);
        RelayRestrictions? best = null;
        int bestPrefix = -1;
        foreach (var (network, r) in Options.PerNetwork)
        {
            var n = network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength >= 96
                ? new IPNetwork(network.BaseAddress.MapToIPv4(), network.PrefixLength - 96) : network;
            if (n.Contains(a) && n.PrefixLength > bestPrefix) { best = r; bestPrefix = n.PrefixLength; }
        }
        return best;
    }
}
