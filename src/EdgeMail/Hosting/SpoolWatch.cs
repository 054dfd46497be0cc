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
    /// <summary>How often the queue is looked at for the LEDs. A look counts the index in place
    /// (<see cref="MessageSpool.Count"/>, no copy), but it walks every queued entry, so a commit does not trigger one:
    /// a commit pulses and counts at once instead (<see cref="OnCommitted"/>), and the next look corrects the count for
    /// what the relay has taken out since.</summary>
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
    private long _removedSeen;                       // QueueCounts.Removed at the last look
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
        // The new message is due now: the LEDs show it without waiting for the next look (which corrects
        // the count if the relay was quicker).
        _state.QueueDepth++;
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
        QueueCounts counts = _spool.Count(_time.GetUtcNow());
        long gone = counts.Removed - Interlocked.Exchange(ref _removedSeen, counts.Removed);
        for (int i = 0; i < Math.Min(gone, 4); i++) _state.Pulse(); // the LED shows at most a short burst anyway
        _state.QueueDepth = counts.Total;
        _state.DeferredCount = counts.Deferred;
        _state.Delivering = counts.Due > 0;
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
