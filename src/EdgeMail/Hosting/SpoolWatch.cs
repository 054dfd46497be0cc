using EdgeMail.Device.Leds;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Hosting;

/// <summary>
/// Keeps the LEDs' <see cref="DeviceState"/> in step with the spool, and imports maildrop/ (what `sendmail` and
/// `alert` drop there while the daemon owns the spool). The relay publishes no per-delivery event, so a message that
/// left the queue between two looks counts as relayed (one activity flash) — the spool is the single source of truth.
/// </summary>
public sealed class SpoolWatch : IAsyncDisposable
{
    /// <summary>How often the queue is looked at for the LEDs. A commit does not trigger a look: a look snapshots every
    /// queued entry (List()), and one per commit with thousands queued was megabytes of garbage per second, most of the
    /// composed daemon's peak RSS growth under load (BENCHMARKS.md, Memory). A commit pulses and counts at once instead
    /// (<see cref="OnCommitted"/>); the next look corrects the count for what the relay has taken out since.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);
    /// <summary>Backstop for a missed inotify event (queue overflow, a watcher that could not start).</summary>
    public static readonly TimeSpan MaildropSweep = TimeSpan.FromSeconds(60);

    private readonly MessageSpool _spool;
    private readonly DeviceState _state;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly FileSystemWatcher? _watcher;
    // Guarded by its own lock object: Refresh replaces the set, so locking on the set itself let a committer
    // that waited on the old set add to the new one while Refresh enumerated it.
    private readonly Lock _knownGate = new();
    private HashSet<string> _known = new(StringComparer.Ordinal);
    private int _maildropSignalled;
    private Task _loop = Task.CompletedTask;

    public SpoolWatch(MessageSpool spool, DeviceState state, ILogger log, TimeProvider? time = null)
    {
        _spool = spool;
        _state = state;
        _log = log;
        _time = time ?? TimeProvider.System;
        string maildrop = Path.Combine(spool.Directory, "maildrop");
        try
        {
            _watcher = new FileSystemWatcher(maildrop) { NotifyFilter = NotifyFilters.FileName, IncludeSubdirectories = false };
            _watcher.Created += (_, _) => SignalMaildrop();
            _watcher.Renamed += (_, _) => SignalMaildrop();
            _watcher.Error += (_, e) => { _log.LogWarning("maildrop watch: {Error}; the periodic sweep continues", e.GetException().Message); SignalMaildrop(); };
        }
        catch (Exception e) when (e is ArgumentException or IOException or PlatformNotSupportedException)
        {
            _log.LogWarning("cannot watch {Maildrop}: {Error}; swept every {Seconds} s instead", maildrop, e.Message, (int)MaildropSweep.TotalSeconds);
        }
    }

    public void Start()
    {
        _spool.Committed += OnCommitted;
        if (_watcher is not null) _watcher.EnableRaisingEvents = true;
        // Anything dropped before the watcher started (Open() imported what was there at open time).
        SignalMaildrop();
        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    private void OnCommitted(string id)
    {
        _state.Pulse();
        // The new message is due now: the LEDs show it without waiting for the next full look (which corrects
        // the count if the relay was quicker).
        lock (_knownGate)
        {
            if (_known.Add(id)) _state.QueueDepth++;
        }
        _state.Delivering = true;
    }

    private void SignalMaildrop()
    {
        Interlocked.Exchange(ref _maildropSignalled, 1);
        Wake();
    }

    private void Wake()
    {
        try { _wake.Release(); } catch (SemaphoreFullException) { }
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        long lastSweep = _time.GetTimestamp();
        while (!ct.IsCancellationRequested)
        {
            bool sweep = _time.GetElapsedTime(lastSweep) >= MaildropSweep;
            if (Interlocked.Exchange(ref _maildropSignalled, 0) == 1 || sweep)
            {
                lastSweep = _time.GetTimestamp();
                try
                {
                    int n = _spool.ImportMaildrop();
                    if (n > 0) _log.LogInformation("maildrop: {Count} message(s) queued", n);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
                {
                    _log.LogWarning("maildrop: {Error}", e.Message);
                }
            }
            Refresh();
            try
            {
                await _wake.WaitAsync(RefreshInterval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Refresh()
    {
        IReadOnlyList<QueueEntry> entries;
        try
        {
            entries = _spool.List();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
        {
            _log.LogWarning("queue listing: {Error}", e.Message);
            return;
        }
        DateTimeOffset now = _time.GetUtcNow();
        var current = new HashSet<string>(entries.Select(e => e.Id), StringComparer.Ordinal);
        int gone;
        lock (_knownGate)
        {
            gone = _known.Count(id => !current.Contains(id));
            _known = current;
        }
        for (int i = 0; i < Math.Min(gone, 4); i++) _state.Pulse(); // the LED shows at most a short burst anyway
        _state.QueueDepth = entries.Count;
        _state.DeferredCount = entries.Count(e => !e.Held && e.Attempts > 0);
        _state.Delivering = entries.Any(e => !e.Held && (e.NextAttempt is null || e.NextAttempt <= now));
        _state.UpstreamFailing = entries.Any(e => !e.Held && e.Attempts > 0 && e.LastError is not null && e.NextAttempt > now);
    }

    public async ValueTask DisposeAsync()
    {
        _spool.Committed -= OnCommitted;
        _watcher?.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
