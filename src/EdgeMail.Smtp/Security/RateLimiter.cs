using EdgeMail.Smtp.Replies;
using System.Net;

namespace EdgeMail.Smtp.Security;

public sealed class RateLimitOptions
{
    public int MessagesPerMinutePerAddress { get; init; } = 60;
    public int MessagesPerMinutePerUser { get; init; } = 120;
    public int ConnectionsPerAddress { get; init; } = 10;
    /// <summary>Bound on remembered message-rate buckets (addresses + users); memory stays fixed under a flood of addresses.</summary>
    public int MaxTrackedKeys { get; init; } = 4096;
}

/// <summary>
/// Per-client limits: concurrent connections per address (→ 421 4.7.0 and close) and messages per
/// minute per address and per authenticated user (→ 450 4.7.1, the client retries later).
///
/// Messages use token buckets (capacity N, refilled at N per minute): a bucket that has refilled
/// completely carries no information, so it can be dropped without changing any decision — that is
/// how idle entries are evicted. When the table is full of busy buckets, the fullest eighth is
/// dropped (those clients get a fresh bucket: a bounded leniency, preferred over unbounded memory).
/// </summary>
public sealed class RateLimiter
{
    private readonly RateLimitOptions _options;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<UInt128, int> _connections = new();
    private readonly Dictionary<UInt128, Bucket> _addressBuckets = new();
    private readonly Dictionary<string, Bucket> _userBuckets = new(StringComparer.OrdinalIgnoreCase);

    private struct Bucket
    {
        public double Tokens;
        public long UpdatedTicks;
    }

    public RateLimiter(RateLimitOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new RateLimitOptions();
        _time = time ?? TimeProvider.System;
        if (_options.MaxTrackedKeys < 16) throw new ArgumentOutOfRangeException(nameof(options), "MaxTrackedKeys must be at least 16");
    }

    /// <summary>
    /// Called when a connection is accepted. False: answer <see cref="SmtpReplyKind.TooManyConnectionsFromAddress"/> and close.
    /// On true, dispose the lease when the connection ends.
    /// </summary>
    public bool TryOpenConnection(IPAddress client, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ConnectionLease? lease)
    {
        var key = ClientKey.For(client);
        lock (_gate)
        {
            _connections.TryGetValue(key, out int open);
            if (open >= _options.ConnectionsPerAddress)
            {
                lease = null;
                return false;
            }
            _connections[key] = open + 1;
        }
        lease = new ConnectionLease(this, key);
        return true;
    }

    internal void Release(UInt128 key)
    {
        lock (_gate)
        {
            if (!_connections.TryGetValue(key, out int open)) return;
            if (open <= 1) _connections.Remove(key); // an address with no connection takes no memory
            else _connections[key] = open - 1;
        }
    }

    /// <summary>
    /// Called once per message (at MAIL FROM). False: answer <see cref="SmtpReplyKind.MessageRateExceeded"/>.
    /// Takes a token from the address bucket and, when authenticated, from the user bucket — both or neither.
    /// </summary>
    public bool TryAcceptMessage(IPAddress client, string? user)
    {
        long now = _time.GetUtcNow().UtcTicks;
        var key = ClientKey.For(client);
        lock (_gate)
        {
            var a = Refilled(_addressBuckets, key, _options.MessagesPerMinutePerAddress, now);
            Bucket u = default;
            if (user is not null) u = Refilled(_userBuckets, user, _options.MessagesPerMinutePerUser, now);
            if (a.Tokens < 1 || (user is not null && u.Tokens < 1))
            {
                Store(_addressBuckets, key, a, _options.MessagesPerMinutePerAddress, now);
                if (user is not null) Store(_userBuckets, user, u, _options.MessagesPerMinutePerUser, now);
                return false;
            }
            a.Tokens -= 1;
            Store(_addressBuckets, key, a, _options.MessagesPerMinutePerAddress, now);
            if (user is not null)
            {
                u.Tokens -= 1;
                Store(_userBuckets, user, u, _options.MessagesPerMinutePerUser, now);
            }
            return true;
        }
    }

    internal int TrackedKeys { get { lock (_gate) return _addressBuckets.Count + _userBuckets.Count; } }
    internal int TrackedConnectionAddresses { get { lock (_gate) return _connections.Count; } }

    private static Bucket Refilled<TKey>(Dictionary<TKey, Bucket> table, TKey key, int perMinute, long now) where TKey : notnull
    {
        if (!table.TryGetValue(key, out var b)) return new Bucket { Tokens = perMinute, UpdatedTicks = now };
        double elapsedMinutes = Math.Max(0, now - b.UpdatedTicks) / (double)TimeSpan.TicksPerMinute;
        b.Tokens = Math.Min(perMinute, b.Tokens + elapsedMinutes * perMinute);
        b.UpdatedTicks = now;
        return b;
    }

    private void Store<TKey>(Dictionary<TKey, Bucket> table, TKey key, Bucket b, int perMinute, long now) where TKey : notnull
    {
        if (!table.ContainsKey(key) && _addressBuckets.Count + _userBuckets.Count >= _options.MaxTrackedKeys)
        {
            Evict(_addressBuckets, _options.MessagesPerMinutePerAddress, now);
            Evict(_userBuckets, _options.MessagesPerMinutePerUser, now);
        }
        table[key] = b;
    }

    private void Evict<TKey>(Dictionary<TKey, Bucket> table, int perMinute, long now) where TKey : notnull
    {
        // First the buckets that have refilled: forgetting them changes nothing.
        var byFullness = new List<(TKey Key, double Tokens)>(table.Count);
        foreach (var (k, _) in table)
        {
            var r = Refilled(table, k, perMinute, now);
            byFullness.Add((k, r.Tokens / perMinute));
        }
        int removed = 0;
        foreach (var (k, fullness) in byFullness)
            if (fullness >= 1) { table.Remove(k); removed++; }
        if (removed > 0 || _addressBuckets.Count + _userBuckets.Count < _options.MaxTrackedKeys) return;
        // Still full of busy clients: drop the fullest eighth (closest to forgotten anyway).
        byFullness.RemoveAll(e => e.Tokens >= 1);
        byFullness.Sort((x, y) => y.Tokens.CompareTo(x.Tokens));
        int drop = Math.Max(1, _options.MaxTrackedKeys / 8);
        for (int i = 0; i < Math.Min(drop, byFullness.Count); i++) table.Remove(byFullness[i].Key);
    }
}

/// <summary>One open connection counted against its address; disposing it (once or more) releases the slot once.</summary>
public sealed class ConnectionLease : IDisposable
{
    private RateLimiter? _owner;
    private readonly UInt128 _key;

    internal ConnectionLease(RateLimiter owner, UInt128 key)
    {
        _owner = owner;
        _key = key;
    }

    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release(_key);
}
