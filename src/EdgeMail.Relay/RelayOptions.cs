using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

/// <summary>Everything the relay needs from the composition root (CLI flags and config file).</summary>
public sealed class RelayOptions
{
    /// <summary>The default route (<c>--relay</c>, repeatable): tried in order, each one a failover for the
    /// one before. Empty → direct delivery by MX.</summary>
    public IReadOnlyList<UpstreamOptions> Upstreams { get; init; } = [];

    /// <summary>Per-domain routes, checked before <see cref="Upstreams"/>; first match wins.</summary>
    public IReadOnlyList<RouteRule> Routes { get; init; } = [];

    // Retry schedule. Postfix defaults: minimal_backoff_time 300s, maximal_backoff_time 4000s (~67 min).
    public TimeSpan FirstRetry { get; init; } = TimeSpan.FromMinutes(5);
    public double BackoffFactor { get; init; } = 2.0;
    public TimeSpan MaxRetry { get; init; } = TimeSpan.FromMinutes(70);
    /// <summary>Each retry delay is shortened by a random fraction up to this much, so that messages
    /// deferred together do not all come back in the same second.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>After this long in the queue a message's open recipients are bounced (Postfix: 5d).</summary>
    public TimeSpan MaxQueueLifetime { get; init; } = TimeSpan.FromDays(5);
    /// <summary>Send one "delayed" DSN when a message has been queued this long; null = never (the default).</summary>
    public TimeSpan? DelayWarning { get; init; }

    // Small defaults for a Raspberry Pi.
    public int MaxConnections { get; init; } = 4;
    public int MaxConnectionsPerRoute { get; init; } = 2;
    public int MaxMessagesPerConnection { get; init; } = 100;
    /// <summary>Messages being worked on at once; the rest of a large backlog waits its turn in the schedule.</summary>
    public int MaxMessagesInFlight { get; init; } = 256;
    /// <summary>RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per transaction.</summary>
    public int MaxRecipientsPerTransaction { get; init; } = 100;

    /// <summary>The DNS resolver for MX delivery as HOST:PORT (IP address, port optional); null = system resolvers.</summary>
    public string? DnsServer { get; init; }
    /// <summary>Replaces port 25 for MX delivery (lab networks, tests).</summary>
    public int MxPort { get; init; } = 25;
    public string HeloName { get; init; } = Environment.MachineName;
    /// <summary>Client options for direct MX delivery; null = defaults with <see cref="HeloName"/>.</summary>
    public SmtpClientOptions? MxClientOptions { get; init; }

    /// <summary>An owner-only file with credentials per upstream URL (see <see cref="RelaySecrets"/>).</summary>
    public string? SecretsFile { get; init; }
}

/// <summary>One per-domain route: <c>*</c>, <c>*.lan</c> (any subdomain of lan) or an exact domain.
/// No upstreams = direct MX delivery for the matching domains.</summary>
public sealed class RouteRule
{
    public required string Pattern { get; init; }
    public IReadOnlyList<UpstreamOptions> Upstreams { get; init; } = [];
}

/// <summary>One upstream: <c>smtp://host[:port]</c> (STARTTLS when offered, 25), <c>smtp+starttls://host[:port]</c>
/// (STARTTLS required, 587) or <c>smtps://host[:port]</c> (implicit TLS, 465).</summary>
public sealed class UpstreamOptions
{
    public required string Url { get; init; }
    public string? User { get; init; }
    public string? Password { get; init; }
    public OAuth2Options? OAuth2 { get; init; }
    public string? CaFile { get; init; }
    /// <summary>SHA-256 of the upstream's certificate, hex.</summary>
    public string? PinnedSha256 { get; init; }
    public bool VerifyCertificate { get; init; } = true;
    /// <summary>Full client options; when set they are used as they are (the fields above are ignored).</summary>
    public SmtpClientOptions? Client { get; init; }
}

/// <summary>XOAUTH2 with a refresh token: the access token is obtained and renewed by us.</summary>
public sealed class OAuth2Options
{
    public required string TokenEndpoint { get; init; }
    public required string ClientId { get; init; }
    public string? ClientSecret { get; init; }
    public required string RefreshToken { get; init; }
}

/// <summary>A configuration the relay cannot start with (bad URL, unsafe secrets file).</summary>
public sealed class RelayConfigException(string message) : Exception(message);
