using EdgeMail.Smtp.Replies;
using System.Net;

namespace EdgeMail.Smtp.Security;

public sealed class AuthThrottleOptions
{
    /// <summary>Delay after the first failure; it doubles with each further one.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Failures allowed; the next one is answered 421 and the connection closed, as is any AUTH while blocked.</summary>
    public int MaxFailures { get; init; } = 10;
    /// <summary>An address's failures are forgotten after this long without a new one.</summary>
    public TimeSpan ForgetAfter { get; init; } = TimeSpan.FromMinutes(15);
    public int MaxTrackedAddresses { get; init; } = 4096;
}

/// <summary>What to do after a failed AUTH: wait <see cref="Delay"/>, then send <see cref="Reply"/> (and close when <see cref="Disconnect"/>).</summary>
public readonly record struct AuthFailureVerdict(TimeSpan Delay, bool Disconnect)
{
    public SmtpReplyKind Reply => Disconnect ? SmtpReplyKind.AuthTooManyFailures : SmtpReplyKind.AuthInvalid;
}

/// <summary>
/// Slows password guessing per client address (IPv6 per /64): 1 s, 2 s, 4 s… capped, and after
/// MaxFailures the address is refused (421) until it has been quiet for ForgetAfter. The delay
/// is applied before the 535 reply, holding the guessing connection, not the server.
/// Memory is bounded: stale entries go first, then the oldest.
/// </summary>
public sealed class AuthThrottle
{
    private readonly AuthThrottleOptions _options;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<UInt128, (int Failures, long LastTicks)> _failures = new();

    public AuthThrottle(AuthThrottleOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new AuthThrottleOptions();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Check before starting an AUTH exchange: true → answer <see cref="SmtpReplyKind.AuthTooManyFailures"/> and close.</summary>
    public bool IsBlocked(IPAddress client)
    {
        lock (_gate) return Current(ClientKey.For(client), Now) > _options.MaxFailures;
    }

    public AuthFailureVerdict RecordFailure(IPAddress client)
    {
        var key = ClientKey.For(client);
        long now = Now;
        lock (_gate)
        {
            int failures = Current(key, now) + 1;
            if (!_failures.ContainsKey(key) && _failures.Count >= _options.MaxTrackedAddresses) Evict(now);
            _failures[key] = (failures, now);
            if (failures > _options.MaxFailures) return new AuthFailureVerdict(TimeSpan.Zero, Disconnect: true);
            // 2^(n-1) without overflow: the shift is bounded before it is taken.
            double factor = Math.Pow(2, Math.Min(failures - 1, 30));
            var delay = TimeSpan.FromTicks((long)Math.Min(_options.BaseDelay.Ticks * factor, _options.MaxDelay.Ticks));
            return new AuthFailureVerdict(delay, Disconnect: false);
        }
    }

    /// <summary>A successful AUTH clears the address's record.</summary>
    public void RecordSuccess(IPAddress client)
    {
        lock (_gate) _failures.Remove(ClientKey.For(client));
    }

    /// <summary>Waits the verdict's delay on this throttle's clock.</summary>
    public Task DelayAsync(AuthFailureVerdict verdict, CancellationToken cancellationToken = default) =>
        verdict.Delay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(verdict.Delay, _time, cancellationToken);

    internal int TrackedAddresses { get { lock (_gate) return _failures.Count; } }

    private long Now => _time.GetUtcNow().UtcTicks;

    private int Current(UInt128 key, long now)
    {
        if (!_failures.TryGetValue(key, out var e)) return 0;
        if (now - e.LastTicks >= _options.ForgetAfter.Ticks)
        {
            _failures.Remove(key);
            return 0;
        }
        return e.Failures;
    }

    private void Evict(long now)
    {
        var stale = _failures.Where(e => now - e.Value.LastTicks >= _options.ForgetAfter.Ticks).Select(e => e.Key).ToList();
        foreach (var k in stale) _failures.Remove(k);
        if (_failures.Count < _options.MaxTrackedAddresses) return;
        // All recent: forget the eighth with the oldest last failure.
        var oldest = _failures.OrderBy(e => e.Value.LastTicks).Take(Math.Max(1, _options.MaxTrackedAddresses / 8)).Select(e => e.Key).ToList();
        foreach (var k in oldest) _failures.Remove(k);
    }
}
