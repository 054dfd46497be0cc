using System.Net.Sockets;
using EdgeMail.Smtp.Client;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Relay;

/// <summary>
/// The scheduler. A message becomes due when it is committed, at start-up (by its NextAttempt) and when its
/// retry time comes; a due message is split into one job per route (the pending recipients of that route);
/// jobs queue per route and are drained by a bounded number of workers, each holding one connection for
/// several messages (RSET between). When all jobs of a message are done the round is recorded in one
/// side record: delivered and failed recipients are final, the rest wait for the next retry. Only when no
/// recipient is left pending does the message leave the spool — so a crash at any point means "deliver again".
/// A round over several routes also records each route's deliveries as soon as its job ends while others
/// still run, so a crash while a slow route is being tried resends only what was in flight. Failures wait for
/// the end of the round: a failure becomes final only together with the queued notice to the sender.
/// </summary>
public sealed class RelayService : IAsyncDisposable
{
    private readonly RelayOptions _options;
    private readonly IRelayQueue _queue;
    private readonly IRelayTransport _transport;
    private readonly ITargetResolver _resolver;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly RouteTable _routes;
    private readonly SemaphoreSlim _connections;
    private readonly int _maxInFlight;

    private readonly object _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _due = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _timeline = new();
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rerun = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RouteLane> _lanes = new(StringComparer.Ordinal);
    private readonly HashSet<Task> _tasks = [];

    private readonly SemaphoreSlim _wake = new(0);
    private int _signalled;
    private int _stopped;
    private ITimer? _timer;
    private CancellationTokenSource? _stop;
    private Task? _loop;

    /// <summary>Throws <see cref="RelayConfigException"/> for a configuration it cannot run with (bad upstream URL or
    /// route pattern, unsafe or malformed secrets file, bad DNS server) and <see cref="InvalidOperationException"/>
    /// when the spool is owned by another process.</summary>
    public RelayService(RelayOptions options, MessageSpool spool, ILogger? logger = null, TimeProvider? time = null)
        : this(options, new SpoolQueue(OwnedSpool(spool)), null, null, logger, time, null)
    {
    }

    // Two daemons on one spool would deliver everything twice.
    private static MessageSpool OwnedSpool(MessageSpool spool) => spool.IsReadOnly
        ? throw new InvalidOperationException($"the spool {spool.Directory} is owned by another process")
        : spool;

    internal RelayService(RelayOptions options, IRelayQueue queue, IRelayTransport? transport, ITargetResolver? resolver,
        ILogger? logger, TimeProvider? time, Random? random)
    {
        _options = options;
        _queue = queue;
        _log = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _random = random ?? Random.Shared; // thread-safe: rounds finish and MX lists shuffle concurrently
        _transport = transport ?? SmtpTransport.Instance;
        _routes = new RouteTable(options, RelaySecrets.Load(options.SecretsFile));
        _resolver = resolver ?? new MxResolver(options, _random);
        _connections = new SemaphoreSlim(Math.Max(1, options.MaxConnections));
        _maxInFlight = Math.Max(1, options.MaxMessagesInFlight);
        Health = new RouteHealth(_routes.Configured);
    }

    /// <summary>Per route: the last attempt, its result and reply, failures in a row (<c>edgemail status</c>, and
    /// <see cref="RouteHealth.AnyFailing"/> for the status LED).</summary>
    public RouteHealth Health { get; }

    /// <summary>Raised after each delivery round of a message (argument: queue ID), whatever its outcome. For tests.</summary>
    internal event Action<string>? RoundFinished;

    /// <summary>Raised when a job of a message joins its route's queue (argument: queue ID). For tests.</summary>
    internal event Action<string>? JobQueued;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        _stop = new CancellationTokenSource();
        _timer = _time.CreateTimer(static s => ((RelayService)s!).Wake(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _queue.Committed += OnCommitted;
        var now = _time.GetUtcNow();
        foreach (var entry in _queue.List())
        {
            if (!entry.Held) Schedule(entry.Id, entry.NextAttempt is { } next && next > now ? next : now, wake: false);
        }
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Every queued message that is not held becomes due now (<c>edgemail queue flush</c>).</summary>
    public void Flush()
    {
        var now = _time.GetUtcNow();
        foreach (var entry in _queue.List())
        {
            if (!entry.Held) Schedule(entry.Id, now, wake: false);
        }
        Wake();
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stop is null || Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _queue.Committed -= OnCommitted;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        Task[] running;
        lock (_lock) running = [.. _tasks];
        try { await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop?.Dispose();
    }

    // ---- queue control (the daemon socket's DELETE, HOLD, RELEASE) ----

    /// <summary>Removes a message without delivering or bouncing it; false when there is no such message.</summary>
    public bool Delete(string id)
    {
        var ok = _queue.Delete(id);
        if (ok) Forget(id);
        return ok;
    }

    /// <summary>Keeps a message from delivery until <see cref="Release"/>; false when unknown or already held.</summary>
    public bool Hold(string id) => _queue.Hold(id);

    /// <summary>Lets a held message go again, due now; false when unknown or not held.</summary>
    public bool Release(string id)
    {
        var ok = _queue.Release(id);
        if (ok) Schedule(id, _time.GetUtcNow());
        return ok;
    }

    internal IRelayQueue Queue => _queue;

    // ---- scheduling ----

    private void OnCommitted(string id) => Schedule(id, _time.GetUtcNow());

    private void Schedule(string id, DateTimeOffset at, bool wake = true)
    {
        lock (_lock)
        {
            if (_due.TryGetValue(id, out var current) && current <= at) return;
            _due[id] = at;
            _timeline.Enqueue(id, at);
        }
        if (wake) Wake();
    }

    private void Forget(string id)
    {
        lock (_lock)
        {
            _due.Remove(id);
            _attempts.Remove(id);
            _warned.Remove(id);
        }
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _wake.Release();
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        var start = new List<string>();
        while (!ct.IsCancellationRequested)
        {
            Volatile.Write(ref _signalled, 0);
            DateTimeOffset? nextDue = null;
            start.Clear();
            lock (_lock)
            {
                var now = _time.GetUtcNow();
                while (_inFlight.Count < _maxInFlight && _timeline.TryPeek(out var id, out var at))
                {
                    if (!_due.TryGetValue(id, out var current) || current != at) { _timeline.Dequeue(); continue; } // superseded
                    if (at > now) { nextDue = at; break; }
                    _timeline.Dequeue();
                    _due.Remove(id);
                    // Already being delivered: run it again right after this round instead of twice at once.
                    if (_inFlight.Add(id)) start.Add(id); else _rerun.Add(id);
                }
            }
            foreach (var id in start) Track(RunMessageAsync(id, ct));
            if (nextDue is { } due)
            {
                _timer!.Change(Max(TimeSpan.Zero, due - _time.GetUtcNow()), Timeout.InfiniteTimeSpan);
                // The clock may have passed the due time while the timer was being set: never sleep through it.
                if (_time.GetUtcNow() >= due) Wake();
            }
            else
            {
                _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            try { await _wake.WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void Track(Task task)
    {
        lock (_lock) _tasks.Add(task);
        task.ContinueWith(t => { lock (_lock) _tasks.Remove(t); }, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RunMessageAsync(string id, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            var entry = _queue.Get(id);
            if (entry is null || entry.Held) { Forget(id); return; }
            int attempt;
            lock (_lock)
            {
                attempt = (_attempts.TryGetValue(id, out var a) ? a : entry.Attempts) + 1;
                _attempts[id] = attempt;
            }
            var outcomes = new List<RecipientOutcome>();
            var jobs = new List<Job>();
            foreach (var r in entry.Recipients)
            {
                if (r.Status != RecipientStatus.Pending) continue;
                var at = r.Address.LastIndexOf('@');
                if (at <= 0 || at == r.Address.Length - 1)
                {
                    outcomes.Add(new RecipientOutcome(r.Address, RecipientStatus.Failed, "5.1.3", "bad recipient address syntax", null, "none"));
                    continue;
                }
                var domain = r.Address[(at + 1)..];
                var route = _routes.Resolve(domain);
                var job = jobs.Find(j => j.Route.Key == route.Key && j.Recipients.Count < _options.MaxRecipientsPerTransaction);
                if (job is null) jobs.Add(job = new Job(entry, route, domain));
                job.Recipients.Add(r.Address);
            }
            foreach (var job in jobs) Enqueue(job, ct);
            if (jobs.Count > 1) await RecordEarlyDeliveriesAsync(id, jobs).ConfigureAwait(false);
            foreach (var job in jobs) outcomes.AddRange(await job.Done.Task.ConfigureAwait(false));
            await FinishRoundAsync(entry, outcomes, attempt, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: nothing recorded, so the next start delivers it again.
        }
        catch (Exception e)
        {
            _log.LogError("{Id}: delivery round failed: {Error}; retrying in {Delay}", id, e.Message, _options.FirstRetry);
            Schedule(id, _time.GetUtcNow() + _options.FirstRetry);
        }
        finally
        {
            bool again;
            lock (_lock)
            {
                _inFlight.Remove(id);
                again = _rerun.Remove(id);
            }
            if (again && !ct.IsCancellationRequested) Schedule(id, _time.GetUtcNow());
            else Wake(); // a slot for the next due message
            RoundFinished?.Invoke(id);
        }
    }

    /// <summary>Waits until one job of the round is left. Each job that ends before that has its deliveries made
    /// durable at once (a partial side record), so a crash while another route is still being tried does not
    /// send them again. The last job needs no record of its own: the end of the round writes one for all.</summary>
    private async Task RecordEarlyDeliveriesAsync(string id, List<Job> jobs)
    {
        var running = new List<Task<List<RecipientOutcome>>>(jobs.Count);
        foreach (var job in jobs) running.Add(job.Done.Task);
        while (running.Count > 1)
        {
            var done = await Task.WhenAny(running).ConfigureAwait(false);
            running.Remove(done);
            List<RecipientState>? delivered = null;
            foreach (var o in await done.ConfigureAwait(false))
            {
                if (o.Status == RecipientStatus.Delivered) (delivered ??= []).Add(new RecipientState(o.Address, o.Status, o.Reply));
            }
            if (delivered is null) continue;
            try
            {
                _queue.RecordAttempt(id, new AttemptRecord { When = _time.GetUtcNow(), Recipients = delivered, Partial = true });
            }
            catch (KeyNotFoundException)
            {
                // Deleted (queue delete) meanwhile: the end of the round forgets it.
            }
            catch (Exception e) when (e is SpoolException or IOException)
            {
                // The end of the round records them too; only a crash before then would send them again.
                _log.LogWarning("{Id}: could not record the deliveries so far: {Error}", id, e.Message);
            }
        }
    }

    private async Task FinishRoundAsync(QueueEntry entry, List<RecipientOutcome> outcomes, int attempt, CancellationToken ct)
    {
        var id = entry.Id;
        if (_queue.Get(id) is null)
        {
            Forget(id); // deleted (queue delete) while it was being delivered
            return;
        }
        var now = _time.GetUtcNow();
        var age = now - entry.Envelope.Arrived;
        var failed = outcomes.Where(o => o.Status == RecipientStatus.Failed).ToList();
        var deferred = outcomes.Where(o => o.Status == RecipientStatus.Pending).ToList();

        if (deferred.Count > 0 && age >= _options.MaxQueueLifetime)
        {
            // RFC 3464 §2.3.3: the status stays the last transient one; the action becomes "failed".
            var expired = deferred.Select(d => d with { Status = RecipientStatus.Failed, Reply = "delivery time expired; last error: " + d.Reply }).ToList();
            DeliveryLog.Write(_log, DeliveryLog.Line(id, expired.Select(e => e.Address), null, "none", age, expired[0].Dsn, "expired",
                "message is older than " + _options.MaxQueueLifetime.TotalDays.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + " days, returned to sender"), "expired");
            failed.AddRange(expired);
            outcomes = [.. outcomes.Where(o => o.Status != RecipientStatus.Pending), .. expired];
            deferred.Clear();
        }

        if (failed.Count > 0)
        {
            try
            {
                await BounceAsync(entry, failed, delayed: false, now, null, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SpoolException or IOException)
            {
                // Without a queued DSN the failures must not become final, or the sender would never learn of them.
                _log.LogError("{Id}: could not queue the non-delivery notification: {Error}; recipients stay queued", id, e.Message);
                var back = failed.Select(f => f with { Status = RecipientStatus.Pending }).ToList();
                outcomes = [.. outcomes.Where(o => o.Status != RecipientStatus.Failed), .. back];
                deferred.AddRange(back);
                failed.Clear();
            }
        }

        DateTimeOffset? next = deferred.Count > 0 ? now + Backoff.Delay(_options, attempt, _random) : null;
        // Once per message, also across restarts: the side record says whether it went out (entry.DelayWarned);
        // _warned covers a round whose record could not be written.
        var delayWarned = false;
        if (deferred.Count > 0 && _options.DelayWarning is { } warnAfter && age >= warnAfter && !entry.DelayWarned)
        {
            bool first;
            lock (_lock) first = _warned.Add(id);
            if (first)
            {
                try
                {
                    await BounceAsync(entry, deferred, delayed: true, now, entry.Envelope.Arrived + _options.MaxQueueLifetime, ct).ConfigureAwait(false);
                    delayWarned = true;
                }
                catch (Exception e) when (e is SpoolException or IOException)
                {
                    _log.LogWarning("{Id}: could not queue the delay notification: {Error}", id, e.Message);
                }
            }
        }

        // A message that is finished is removed at once: recording its last attempt first would only cost
        // another fsync for a record that is deleted a moment later (a crash in between redelivers either way).
        if (deferred.Count > 0)
        {
            _queue.RecordAttempt(id, new AttemptRecord
            {
                When = now,
                Recipients = outcomes.Select(o => new RecipientState(o.Address, o.Status, o.Reply)).ToList(),
                Error = deferred.Count > 0 ? deferred[0].Reply : null,
                NextAttempt = next,
                DelayWarned = delayWarned,
            });
        }

        if (deferred.Count == 0)
        {
            _queue.Complete(id);
            Forget(id);
            if (_log.IsEnabled(LogLevel.Information)) _log.LogInformation("{Id}: removed", id);
        }
        else
        {
            Schedule(id, next!.Value);
        }
    }

    private async Task BounceAsync(QueueEntry entry, List<RecipientOutcome> recipients, bool delayed, DateTimeOffset now,
        DateTimeOffset? retryUntil, CancellationToken ct)
    {
        var original = entry.Envelope;
        if (original.Sender.Length == 0)
        {
            // RFC 5321 §4.5.5/§6.1: never notify the null reverse-path; this is how bounce loops end.
            _log.LogWarning("{Id}: undeliverable {Kind} for the null sender dropped (to={To})", entry.Id,
                delayed ? "delay notice" : "notification", string.Join(',', recipients.Select(r => "<" + r.Address + ">")));
            return;
        }
        byte[] headers;
        var stream = _queue.OpenMessage(entry.Id);
        await using (stream.ConfigureAwait(false)) headers = DsnComposer.ReadHeaders(stream);
        var dsn = DsnComposer.Compose(entry.Id, original, recipients, delayed, _options.HeloName, now, retryUntil, headers);
        var envelope = DsnComposer.EnvelopeFor(original, _options.HeloName, headers, now);
        var bounceId = await _queue.EnqueueAsync(envelope, dsn, ct).ConfigureAwait(false);
        _log.LogInformation("{Id}: sender {Kind} notification: {BounceId}", entry.Id, delayed ? "delay" : "non-delivery", bounceId);
        Schedule(bounceId, now);
    }

    // ---- route lanes and workers ----

    private sealed class Job(QueueEntry entry, Route route, string domain)
    {
        public QueueEntry Entry { get; } = entry;
        public Route Route { get; } = route;
        public string Domain { get; } = domain;
        public List<string> Recipients { get; } = [];
        public TaskCompletionSource<List<RecipientOutcome>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class RouteLane(Route route, string domain)
    {
        public Route Route { get; } = route;
        public string Domain { get; } = domain;
        public Queue<Job> Jobs { get; } = new();
        public int Workers;
    }

    /// <summary>One worker's connection and what it learned about the route's hosts.</summary>
    private sealed class WorkerState
    {
        public Resolution? Resolution;
        public IRelayConnection? Connection;
        public int TargetIndex = -1;
        public int Sent;
        public readonly Dictionary<int, (string Reply, string Dsn, bool Refused)> Dead = [];
    }

    private void Enqueue(Job job, CancellationToken ct)
    {
        RouteLane lane;
        bool spawn;
        lock (_lock)
        {
            if (!_lanes.TryGetValue(job.Route.Key, out lane!)) _lanes[job.Route.Key] = lane = new RouteLane(job.Route, job.Domain);
            lane.Jobs.Enqueue(job);
            // A worker may be busy with an earlier job, so a new job gets a new worker while the route has room;
            // one that finds the queue already drained simply ends.
            spawn = lane.Workers < Math.Max(1, _options.MaxConnectionsPerRoute);
            if (spawn) lane.Workers++;
        }
        JobQueued?.Invoke(job.Entry.Id);
        if (spawn) Track(WorkerAsync(lane, ct));
    }

    private async Task WorkerAsync(RouteLane lane, CancellationToken ct)
    {
        await Task.Yield();
        var haveSlot = false;
        var counted = true;
        var state = new WorkerState();
        Job? job = null;
        try
        {
            await _connections.WaitAsync(ct).ConfigureAwait(false);
            haveSlot = true;
            while (true)
            {
                lock (_lock)
                {
                    if (!lane.Jobs.TryDequeue(out job))
                    {
                        lane.Workers--;
                        counted = false;
                        if (lane.Workers == 0 && _lanes.TryGetValue(lane.Route.Key, out var l) && l == lane) _lanes.Remove(lane.Route.Key);
                        return;
                    }
                }
                List<RecipientOutcome> result;
                try
                {
                    result = await DeliverAsync(job, lane, state, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    await CloseAsync(state).ConfigureAwait(false);
                    _log.LogError("{Id}: delivery failed unexpectedly: {Error}", job.Entry.Id, e.Message);
                    result = job.Recipients.Select(r => new RecipientOutcome(r, RecipientStatus.Pending, "4.3.0", "local error: " + e.Message, null, "none")).ToList();
                }
                job.Done.TrySetResult(result);
                job = null;
            }
        }
        catch (OperationCanceledException)
        {
            job?.Done.TrySetCanceled(ct);
            lock (_lock)
            {
                if (counted) { lane.Workers--; counted = false; }
                while (lane.Jobs.TryDequeue(out var j)) j.Done.TrySetCanceled(ct);
            }
        }
        finally
        {
            if (counted) lock (_lock) lane.Workers--;
            await QuitAsync(state).ConfigureAwait(false);
            if (haveSlot) _connections.Release();
        }
    }

    private async Task<List<RecipientOutcome>> DeliverAsync(Job job, RouteLane lane, WorkerState st, CancellationToken ct)
    {
        var entry = job.Entry;
        var id = entry.Id;
        var age = _time.GetUtcNow() - entry.Envelope.Arrived;
        var outcomes = new List<RecipientOutcome>();

        st.Resolution ??= await _resolver.ResolveAsync(lane.Route, lane.Domain, ct).ConfigureAwait(false);
        var res = st.Resolution;
        if (res.Status != ResolveStatus.Ok)
        {
            var status = res.Status == ResolveStatus.Permanent ? RecipientStatus.Failed : RecipientStatus.Pending;
            foreach (var r in job.Recipients) outcomes.Add(new RecipientOutcome(r, status, res.Dsn, res.Reply, null, "none"));
            LogOutcomes(lane.Route, id, outcomes, age);
            return outcomes;
        }

        var targets = res.Targets;
        var remaining = new List<string>(job.Recipients);
        string lastReply = "no host of the route could be reached", lastDsn = "4.4.1", lastRelay = "none";
        string? lastMta = null;
        // RFC 5321 §3.8/§5.1: a host that answers its greeting or EHLO with 5xx refuses us; try the next one.
        // Only when every host of the route refused that way is the failure permanent (Postfix does the same).
        bool everyHostRefused = targets.Count > 0;
        for (var i = 0; i < targets.Count && remaining.Count > 0; i++)
        {
            var target = targets[i];
            if (st.Dead.TryGetValue(i, out var dead))
            {
                (lastReply, lastDsn, lastRelay, lastMta) = (dead.Reply, dead.Dsn, target.Display, null);
                everyHostRefused &= dead.Refused;
                continue;
            }
            everyHostRefused &= st.TargetIndex != i || st.Connection is null;

            var conn = st.TargetIndex == i ? st.Connection : null;
            if (conn is not null && st.Sent > 0)
            {
                if (st.Sent >= _options.MaxMessagesPerConnection)
                {
                    await QuitAsync(st).ConfigureAwait(false);
                    conn = null;
                }
                else
                {
                    // RFC 5321 §4.1.1.5: a clean transaction state before the next MAIL.
                    try { await conn.ResetAsync(ct).ConfigureAwait(false); }
                    catch (Exception e) when (e is SmtpClientException or IOException or SocketException)
                    {
                        await CloseAsync(st).ConfigureAwait(false);
                        conn = null;
                    }
                }
            }
            if (conn is null)
            {
                await QuitAsync(st).ConfigureAwait(false);
                try
                {
                    conn = await _transport.ConnectAsync(target, ct).ConfigureAwait(false);
                    (st.Connection, st.TargetIndex, st.Sent) = (conn, i, 0);
                    everyHostRefused = false;
                }
                catch (Exception e) when (e is SmtpClientException or IOException or SocketException)
                {
                    var (reply, dsn) = e is SmtpClientException se
                        ? (Classify.Describe(se), Classify.DsnOf(se))
                        : ($"connect to {target.Display}: {e.Message}", "4.4.1");
                    bool refused = e is SmtpClientException { } rejected && Classify.IsPermanent(rejected);
                    everyHostRefused &= refused;
                    st.Dead[i] = (reply, dsn, refused);
                    (lastReply, lastDsn, lastRelay, lastMta) = (reply, dsn, target.Display, null);
                    continue;
                }
            }

            try
            {
                SmtpDeliveryResult result;
                var stream = _queue.OpenMessage(id);
                await using (stream.ConfigureAwait(false))
                {
                    st.Sent++;
                    result = await conn.SendAsync(entry.Envelope.Sender, remaining, stream, entry.Size,
                        entry.Envelope.Body == BodyType.EightBitMime, entry.Envelope.SmtpUtf8, ct).ConfigureAwait(false);
                }
                var still = new List<string>();
                foreach (var address in remaining)
                {
                    var rr = FindResult(result, address);
                    if (rr is null)
                    {
                        still.Add(address);
                        if (result.MessageReply is { } mr) (lastReply, lastDsn) = (Classify.Text(mr), Classify.Dsn(mr));
                        continue;
                    }
                    var status = Classify.Of(rr.Class);
                    if (status == RecipientStatus.Pending)
                    {
                        still.Add(address);
                        (lastReply, lastDsn) = (Classify.Text(rr.Reply), Classify.Dsn(rr.Reply));
                    }
                    else
                    {
                        outcomes.Add(new RecipientOutcome(address, status, Classify.Dsn(rr.Reply), Classify.Text(rr.Reply), target.Host, target.Display));
                    }
                }
                (lastRelay, lastMta) = (target.Display, target.Host);
                remaining = still;
            }
            catch (SmtpClientException e)
            {
                await CloseAsync(st).ConfigureAwait(false);
                if (Classify.IsPermanent(e))
                {
                    foreach (var r in remaining)
                        outcomes.Add(new RecipientOutcome(r, RecipientStatus.Failed, Classify.DsnOf(e), Classify.Text(e.Reply!), target.Host, target.Display));
                    remaining.Clear();
                }
                else
                {
                    (lastReply, lastDsn, lastRelay, lastMta) = (Classify.Describe(e), Classify.DsnOf(e), target.Display, target.Host);
                }
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                await CloseAsync(st).ConfigureAwait(false);
                (lastReply, lastDsn, lastRelay, lastMta) = ($"lost connection with {target.Display}: {e.Message}", "4.4.2", target.Display, target.Host);
            }
        }
        var left = everyHostRefused ? RecipientStatus.Failed : RecipientStatus.Pending;
        foreach (var r in remaining) outcomes.Add(new RecipientOutcome(r, left, lastDsn, lastReply, lastMta, lastRelay));
        LogOutcomes(lane.Route, id, outcomes, age);
        return outcomes;
    }

    private static RecipientResult? FindResult(SmtpDeliveryResult result, string address)
    {
        foreach (var r in result.Recipients)
        {
            if (string.Equals(r.Address, address, StringComparison.OrdinalIgnoreCase)) return r;
        }
        return null;
    }

    /// <summary>The end of one delivery attempt on a route: the route's health first, then the log lines, so whoever
    /// reads a delivery line (a person, a test) finds `status` already saying the same.</summary>
    private void LogOutcomes(Route route, string id, List<RecipientOutcome> outcomes, TimeSpan age)
    {
        Health.Record(route, outcomes, _time.GetUtcNow());
        // One line per distinct outcome (status, relay, DSN, reply), its recipients together, in order of first appearance.
        var done = new bool[outcomes.Count];
        for (int i = 0; i < outcomes.Count; i++)
        {
            if (done[i]) continue;
            RecipientOutcome first = outcomes[i];
            var addresses = new List<string>();
            for (int j = i; j < outcomes.Count; j++)
            {
                RecipientOutcome o = outcomes[j];
                if (done[j] || o.Status != first.Status || o.Relay != first.Relay || o.Dsn != first.Dsn || o.Reply != first.Reply) continue;
                done[j] = true;
                addresses.Add(o.Address);
            }
            var status = first.Status switch
            {
                RecipientStatus.Delivered => "sent",
                RecipientStatus.Failed => "bounced",
                _ => "deferred",
            };
            DeliveryLog.Write(_log, DeliveryLog.Line(id, addresses, DeliveryLog.RouteName(route), first.Relay, age, first.Dsn, status, first.Reply), status);
        }
    }

    private static async Task QuitAsync(WorkerState st)
    {
        var conn = st.Connection;
        if (conn is null) return;
        (st.Connection, st.TargetIndex, st.Sent) = (null, -1, 0);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await conn.QuitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SmtpClientException or IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        await DisposeQuietly(conn).ConfigureAwait(false);
    }

    private static async Task CloseAsync(WorkerState st)
    {
        var conn = st.Connection;
        if (conn is null) return;
        (st.Connection, st.TargetIndex, st.Sent) = (null, -1, 0);
        await DisposeQuietly(conn).ConfigureAwait(false);
    }

    private static async Task DisposeQuietly(IRelayConnection conn)
    {
        try { await conn.DisposeAsync().ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or SmtpClientException) { }
    }
}
