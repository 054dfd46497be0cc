namespace EdgeMail.Config;

/// <summary>[relay] — where queued mail goes. Only the upstream list exists yet; the relay issue adds routes,
/// retries and credentials here.</summary>
public sealed class RelayConfig
{
    public List<string> Upstream { get; set; } = [];

    public static ConfigSection Schema { get; } = new("relay",
    [
        new("upstream", ConfigValueType.ListOf(ConfigValueType.Text(s => RelayUpstream.TryParse(s, out _), RelayUpstream.Allowed))),
    ]);

    /// <summary>The upstreams in failover order (already validated by the schema or the CLI).</summary>
    public IReadOnlyList<RelayUpstream> Upstreams()
    {
        var upstreams = new List<RelayUpstream>(Upstream.Count);
        foreach (string text in Upstream)
        {
            if (RelayUpstream.TryParse(text, out RelayUpstream upstream) is { } error)
                throw new ConfigException("relay.upstream", error, RelayUpstream.Allowed);
            upstreams.Add(upstream);
        }
        return upstreams;
    }
}
