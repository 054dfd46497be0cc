using System.Collections.Concurrent;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests.Fakes;

/// <summary>The real thing end to end: a real spool on disk (real fsync), the real SMTP client (or a scripted
/// transport, when given), a manual clock.</summary>
internal sealed class SpoolRelay : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<TaskCompletionSource>> _waiters = new();
    private readonly RelayOptions _options;
    private IRelayTransport? _transport;

    public string Dir { get; }
    public MessageSpool Spool { get; private set; }
    public RelayService Relay { get; private set; }
    public ManualTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);
    public ListLogger Log { get; } = new();

    /// <summary>Raised when the relay has written a side record (with a scripted transport only).</summary>
    public event Action<string, AttemptRecord>? Recorded;

    public SpoolRelay(RelayOptions options, string? dir = null, IRelayTransport? transport = null)
    {
        _options = options;
        _transport = transport;
        Dir = dir ?? Directory.CreateTempSubdirectory("edgemail-relay-").FullName;
        Spool = MessageSpool.Open(new SpoolOptions { Directory = Dir, MinFreeBytes = 0 });
        Relay = Create();
    }

    private RelayService Create()
    {
        var relay = _transport is null
            ? new RelayService(_options, Spool, Log, Clock)
            : new RelayService(_options, new ObservedQueue(new SpoolQueue(Spool), this), _transport, null, Log, Clock, null);
        relay.RoundFinished += id =>
        {
            lock (_finished) _finished.Add(id);
            if (_waiters.TryGetValue(id, out var q) && q.TryDequeue(out var tcs)) tcs.TrySetResult();
        };
        return relay;
    }

    private readonly HashSet<string> _finished = [];

    /// <summary>Completes when <paramref name="id"/> has had a delivery round, now or earlier.</summary>
    public Task RoundDone(string id)
    {
        var next = NextRound(id);
        lock (_finished) return _finished.Contains(id) ? Task.CompletedTask : next;
    }

    /// <summary>The queue ID of the DSN queued for <paramref name="id"/>, from the log.</summary>
    public string BounceOf(string id)
    {
        var marker = $"{id}: sender non-delivery notification: ";
        return Log.Lines.Single(l => l.StartsWith(marker, StringComparison.Ordinal))[marker.Length..];
    }

    public Task StartAsync() => Relay.StartAsync();

    public Task NextRound(string id)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.GetOrAdd(id, _ => new()).Enqueue(tcs);
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Writes and commits a message; returns its ID and a task for its first delivery round.</summary>
    public async Task<(string Id, Task Round)> QueueAsync(string sender, string[] recipients, byte[] message)
    {
        var writer = Spool.Create(new Envelope { Sender = sender, Recipients = recipients, ClientAddress = "127.0.0.1", Arrived = Clock.GetUtcNow() });
        await using (writer)
        {
            var round = NextRound(writer.QueueId);
            await writer.WriteAsync(message);
            await writer.CommitAsync();
            return (writer.QueueId, round);
        }
    }

    public async Task<string> DeliverAsync(string sender, string[] recipients, byte[] message)
    {
        var (id, round) = await QueueAsync(sender, recipients, message);
        await round;
        return id;
    }

    public async Task RetryAsync(string id)
    {
        var next = Spool.Get(id)?.NextAttempt ?? throw new InvalidOperationException($"{id} has no next attempt");
        var round = NextRound(id);
        Clock.AdvanceTo(next);
        await round;
    }

    public byte[] Bytes(string id)
    {
        using var s = Spool.OpenMessage(id);
        var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>Stops the relay and closes the spool, as a process exit would; then opens both again
    /// (with <paramref name="transport"/> from then on, when given).</summary>
    public async Task RestartAsync(IRelayTransport? transport = null)
    {
        _transport = transport ?? _transport;
        await Relay.DisposeAsync();
        Spool.Dispose();
        Spool = MessageSpool.Open(new SpoolOptions { Directory = Dir, MinFreeBytes = 0 });
        Relay = Create();
    }

    public async ValueTask DisposeAsync()
    {
        await Relay.DisposeAsync();
        Spool.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    /// <summary>The spool as the relay sees it, telling the test when a side record has been written.</summary>
    private sealed class ObservedQueue(IRelayQueue inner, SpoolRelay owner) : IRelayQueue
    {
        public event Action<string>? Committed { add => inner.Committed += value; remove => inner.Committed -= value; }
        public string Directory => inner.Directory;
        public IReadOnlyList<QueueEntry> List() => inner.List();
        public QueueEntry? Get(string id) => inner.Get(id);
        public Stream OpenMessage(string id) => inner.OpenMessage(id);
        public void Complete(string id) => inner.Complete(id);
        public bool Delete(string id) => inner.Delete(id);
        public bool Hold(string id) => inner.Hold(id);
        public bool Release(string id) => inner.Release(id);
        public ValueTask<string> EnqueueAsync(Envelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct) => inner.EnqueueAsync(envelope, message, ct);

        public void RecordAttempt(string id, AttemptRecord attempt)
        {
            inner.RecordAttempt(id, attempt);
            owner.Recorded?.Invoke(id, attempt);
        }
    }
}
