using EdgeMail.Spool;

namespace EdgeMail.Relay;

/// <summary>How one route fared at its last delivery attempt (one row of <c>edgemail status</c>, also its JSON).</summary>
public sealed class RouteHealthEntry
{
    /// <summary>"default" (the upstream list), a route's pattern ("*.lan"), or "mx:DOMAIN" for direct delivery.</summary>
    public string Route { get; set; } = "";
    /// <summary>The configured hosts in failover order ("smtp.example.com:587, backup.example.com:25"); "" for MX.</summary>
    public string Hosts { get; set; } = "";
    /// <summary>The remote host of the last attempt, <c>host[address]:port</c>; null when none was reached (DNS).</summary>
    public string? Host { get; set; }
    public DateTimeOffset? LastAttempt { get; set; }
    /// <summary>"sent", "deferred" or "bounced": the worst outcome among the attempt's recipients.</summary>
    public string? LastResult { get; set; }
    /// <summary>The remote reply or connection error of the last attempt (one line, bounded).</summary>
    public string? LastReply { get; set; }
    /// <summary>Attempts in a row that ended deferred (no connection, TLS, AUTH, 4xx); 0 after a success.</summary>
    public int ConsecutiveFailures { get; set; }
    /// <summary>When the current run of failures began.</summary>
    public DateTimeOffset? FailingSince { get; set; }
    public DateTimeOffset? LastSuccess { get; set; }

    /// <summary>"ok", "failing" or "never tried".</summary>
    public string State => LastAttempt is null ? "never tried" : ConsecutiveFailures > 0 ? "failing" : "ok";

    internal RouteHealthEntry Copy() => (RouteHealthEntry)MemberwiseClone();
}

/// <summary>
/// The relay's own view of each route, updated where a delivery attempt on the route ends: the last attempt, its
/// result and reply, and failures in a row. A route is failing while its last attempt was deferred: the upstream
/// could not be reached or answered 4xx. A 5xx is a final answer from a working upstream, so a bounce does not make
/// a route fail. Configured routes are listed from the start ("never tried"); MX routes, one per recipient domain,
/// appear when first used and are bounded (the least recently tried one makes room).
/// </summary>
public sealed class RouteHealth
{
    internal const int MaxRoutes = 64;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, RouteHealthEntry> _routes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _configured = new(StringComparer.Ordinal);
    private bool _anyFailing;

    /// <summary>Raised when <see cref="AnyFailing"/> has changed, outside the lock and on the delivering thread. Two
    /// changes close together may be announced out of order, so a handler reads <see cref="AnyFailing"/> (the current
    /// value) instead of carrying one along.</summary>
    public event Action? FailingChanged;

    /// <summary>True while some route's last attempt was deferred: the status LED's "upstream failing". Cheap.</summary>
    public bool AnyFailing => Volatile.Read(ref _anyFailing);

    internal RouteHealth(IReadOnlyList<Route> configured)
    {
        foreach (var route in configured)
        {
            var hosts = new System.Text.StringBuilder();
            foreach (var t in route.Upstreams)
                hosts.Append(hosts.Length > 0 ? ", " : "").Append(t.Host).Append(':').Append(t.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _configured.Add(route.Key);
            _routes[route.Key] = new RouteHealthEntry { Route = route.Name, Hosts = hosts.ToString() };
        }
    }

    /// <summary>A copy of every route known so far, configured ones first, then by name.</summary>
    public IReadOnlyList<RouteHealthEntry> Snapshot()
    {
        var list = new List<RouteHealthEntry>();
        lock (_lock)
        {
            foreach (var (key, entry) in _routes)
                if (_configured.Contains(key)) list.Add(entry.Copy());
            int configured = list.Count;
            foreach (var (key, entry) in _routes)
                if (!_configured.Contains(key)) list.Add(entry.Copy());
            list.Sort(configured, list.Count - configured, Comparer<RouteHealthEntry>.Create(static (a, b) => string.CompareOrdinal(a.Route, b.Route)));
        }
        return list;
    }

    /// <summary>One attempt on a route ended with these outcomes (one per recipient of the transaction).</summary>
    internal void Record(Route route, IReadOnlyList<RecipientOutcome> outcomes, DateTimeOffset at)
    {
        RecipientOutcome? worst = null;
        foreach (var o in outcomes)
        {
            if (worst is null || Rank(o.Status) > Rank(worst.Status)) worst = o;
        }
        if (worst is null) return;
        var result = worst.Status switch
        {
            RecipientStatus.Pending => "deferred",
            RecipientStatus.Failed => "bounced",
            _ => "sent",
        };
        var failed = worst.Status == RecipientStatus.Pending;
        bool changed;
        bool any = false;
        lock (_lock)
        {
            if (!_routes.TryGetValue(route.Key, out var entry))
            {
                MakeRoom();
                _routes[route.Key] = entry = new RouteHealthEntry { Route = route.Key };
            }
            entry.Host = worst.Relay == "none" ? null : worst.Relay;
            entry.LastAttempt = at;
            entry.LastResult = result;
            entry.LastReply = DeliveryLog.Sanitize(worst.Reply);
            entry.ConsecutiveFailures = failed ? entry.ConsecutiveFailures + 1 : 0;
            entry.FailingSince = failed ? entry.FailingSince ?? at : null;
            if (!failed) entry.LastSuccess = at;
            foreach (var e in _routes.Values) any |= e.ConsecutiveFailures > 0;
            changed = any != _anyFailing;
            Volatile.Write(ref _anyFailing, any);
        }
        if (changed) FailingChanged?.Invoke();
    }

    // Sent < bounced < deferred: a deferred recipient is the route's trouble; a bounce is the remote's final word.
    private static int Rank(RecipientStatus s) => s switch
    {
        RecipientStatus.Pending => 2,
        RecipientStatus.Failed => 1,
        _ => 0,
    };

    private void MakeRoom()
    {
        if (_routes.Count < MaxRoutes) return;
        string? oldest = null;
        DateTimeOffset oldestAt = DateTimeOffset.MaxValue;
        foreach (var (key, e) in _routes)
        {
            if (_configured.Contains(key)) continue;
            var at = e.LastAttempt ?? DateTimeOffset.MinValue;
            if (at < oldestAt) (oldest, oldestAt) = (key, at);
        }
        if (oldest is not null) _routes.Remove(oldest);
    }
}
