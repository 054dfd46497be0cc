using System.Collections.Concurrent;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Relay.Tests.Fakes;

/// <summary>A relay over a memory queue, a scripted upstream and a manual clock.</summary>
internal sealed class RelayHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public MemoryQueue Queue { get; } = new();
    public ScriptedTransport Upstream { get; } = new();
    public ManualTimeProvider Clock { get; } = new(T0);
    public ListLogger Log { get; } = new();
    public RelayService Relay { get; }
    private readonly ConcurrentDictionary<string, ConcurrentQueue<TaskCompletionSource>> _waiters = new();

    public RelayHarness(RelayOptions? options = null, ITargetResolver? resolver = null)
    {
        options ??= Options();
        Relay = new RelayService(options, Queue, Upstream, resolver, Log, Clock, new Random(1));
        Relay.RoundFinished += id =>
        {
            if (_waiters.TryGetValue(id, out var q) && q.TryDequeue(out var tcs)) tcs.TrySetResult();
        };
    }

    public static RelayOptions Options(params string[] upstreams) => new()
    {
        Upstreams = (upstreams.Length == 0 ? ["smtp://smarthost.test"] : upstreams).Select(u => new UpstreamOptions { Url = u }).ToList(),
        Jitter = 0,
        HeloName = "edge.test",
    };

    public Task StartAsync() => Relay.StartAsync();

    /// <summary>Completes after the next delivery round of <paramref name="id"/>. Register before triggering it.</summary>
    public Task NextRound(string id)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.GetOrAdd(id, _ => new()).Enqueue(tcs);
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Completes when a job of <paramref name="id"/> is in its route queue. Register before triggering it.</summary>
    public Task JobQueued(string id)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(string queued) { if (queued == id) tcs.TrySetResult(); }
        Relay.JobQueued += Handler;
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(t => { Relay.JobQueued -= Handler; t.GetAwaiter().GetResult(); });
    }

    /// <summary>Queues a message and waits for its first round.</summary>
    public async Task<string> SubmitAsync(string sender, params string[] recipients)
    {
        var id = Queue.Add(sender, recipients, notify: false, arrived: Clock.GetUtcNow());
        var round = NextRound(id);
        Queue.Notify(id);
        await round;
        return id;
    }

    /// <summary>Moves the clock to the message's next attempt and waits for that round.</summary>
    public async Task RetryAsync(string id)
    {
        var next = Queue.Get(id)?.NextAttempt ?? throw new InvalidOperationException($"{id} has no next attempt");
        var round = NextRound(id);
        Clock.AdvanceTo(next);
        await round;
    }

    public RecipientStatus StatusOf(string id, string rcpt)
        => Queue.Get(id)?.Recipients.Single(r => r.Address == rcpt).Status ?? throw new InvalidOperationException($"{id} is gone");

    public async ValueTask DisposeAsync() => await Relay.DisposeAsync();
}

internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Lines.Enqueue(formatter(state, exception));
}
