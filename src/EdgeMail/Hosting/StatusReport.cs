using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeMail.Device;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Hosting;

/// <summary>What `edgemail status` shows. Built by the daemon (everything) or from the spool alone (queue only).</summary>
public sealed class StatusReport
{
    public bool Daemon { get; set; }
    public int? Pid { get; set; }
    public string? Version { get; set; }
    public DateTimeOffset? Started { get; set; }
    public long? UptimeSeconds { get; set; }
    public string Spool { get; set; } = "";
    public QueueSummary Queue { get; set; } = new();
    /// <summary>Per route (upstream list or "mx"): the latest result of a message that was tried.</summary>
    public List<RouteResult> Routes { get; set; } = [];
    public List<UpstreamHealth> Upstreams { get; set; } = [];
    public List<LedStatus> Leds { get; set; } = [];
    public List<SensorReading> Sensors { get; set; } = [];
    public List<string> Alerts { get; set; } = [];
}

public sealed class QueueSummary
{
    public int Depth { get; set; }
    public int Held { get; set; }
    public int Deferred { get; set; }
    public long? OldestAgeSeconds { get; set; }
}

public sealed class RouteResult
{
    public string Route { get; set; } = "";
    public string? LastResult { get; set; }
    public DateTimeOffset? NextAttempt { get; set; }
}

public sealed class UpstreamHealth
{
    public string Url { get; set; } = "";
    public bool Failing { get; set; }
}

public sealed class LedStatus
{
    public string Role { get; set; } = "";
    public string Pattern { get; set; } = "";
    public bool Lit { get; set; }
}

public sealed class SensorReading
{
    public string Name { get; set; } = "";
    public double? Value { get; set; }
    public string Unit { get; set; } = "";
    public string? Error { get; set; }
    public DateTimeOffset At { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;

public static class StatusReports
{
    public const string SocketName = "status.sock";
    private const int MaxReplyBytes = 1 << 20;

    /// <summary>The queue part, from the spool's own listing (the daemon's view or a read-only one).</summary>
    public static void FillQueue(StatusReport report, IReadOnlyList<QueueEntry> entries, IReadOnlyList<string> upstreams, DateTimeOffset now)
    {
        report.Queue = new QueueSummary
        {
            Depth = entries.Count,
            Held = entries.Count(e => e.Held),
            Deferred = entries.Count(e => !e.Held && e.Attempts > 0),
            OldestAgeSeconds = entries.Count == 0 ? null : (long)(now - entries.Min(e => e.Envelope.Arrived)).TotalSeconds,
        };
        // The spool keeps the last error per message, not per route: the most recent tried message
        // stands for the route its recipients' domains took. Without routes known here, "upstream" is
        // the default route (all upstreams) or MX.
        string route = upstreams.Count > 0 ? string.Join(" ", upstreams) : "mx";
        QueueEntry? latest = entries.Where(e => e.Attempts > 0).MaxBy(e => e.NextAttempt ?? DateTimeOffset.MinValue);
        report.Routes = latest is null ? [] : [new RouteResult { Route = route, LastResult = latest.LastError, NextAttempt = latest.NextAttempt }];
        bool failing = latest?.LastError is not null;
        report.Upstreams = upstreams.Select(u => new UpstreamHealth { Url = u, Failing = failing }).ToList();
    }

    public static void FillDevice(StatusReport report, DeviceStatus device)
    {
        report.Leds = device.Leds.Select(l => new LedStatus { Role = l.Role.ToString().ToLowerInvariant(), Pattern = l.Pattern.ToString(), Lit = l.Lit }).ToList();
        report.Sensors = device.Readings.Select(s => new SensorReading { Name = s.Name, Value = s.Value, Unit = s.Unit, Error = s.Error, At = s.At }).ToList();
        report.Alerts = [.. device.ActiveAlerts];
    }

    public static string ToJson(StatusReport report) => JsonSerializer.Serialize(report, StatusJsonContext.Default.StatusReport);

    public static StatusReport? FromJson(string json) => JsonSerializer.Deserialize(json, StatusJsonContext.Default.StatusReport);

    /// <summary>Asks a running daemon; null when none answers on the spool's status socket.</summary>
    public static async Task<StatusReport?> AskDaemonAsync(string spoolDirectory, CancellationToken ct)
    {
        string path = Path.Combine(spoolDirectory, SocketName);
        if (!File.Exists(path)) return null;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            var buffer = new byte[MaxReplyBytes];
            int filled = 0;
            while (filled < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
            }
            return FromJson(Encoding.UTF8.GetString(buffer, 0, filled));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or JsonException)
        {
            return null; // a stale socket file from a daemon that is gone, or one that does not answer
        }
    }
}

/// <summary>
/// The daemon's status socket (status.sock in the spool folder, owner-only like the spool): a client connects and
/// reads one JSON document; nothing is read from it, so a local client cannot make the daemon do anything.
/// </summary>
public sealed class StatusServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<StatusReport> _provider;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public StatusServer(string spoolDirectory, Func<StatusReport> provider, ILogger log)
    {
        _path = Path.Combine(spoolDirectory, StatusReports.SocketName);
        _provider = provider;
        _log = log;
        // Only the spool's owner (the single daemon) gets here, so a leftover file is from a crash.
        try { File.Delete(_path); } catch (IOException) { }
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_path));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(8);
        _accept = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            using (client)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                try
                {
                    byte[] json = Encoding.UTF8.GetBytes(StatusReports.ToJson(_provider()));
                    await client.SendAsync(json, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    client.Shutdown(SocketShutdown.Send);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }
                catch (Exception e)
                {
                    _log.LogWarning("status: cannot build the report: {Error}", e.Message);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accept.ConfigureAwait(false);
        try { File.Delete(_path); } catch (IOException) { }
        _stop.Dispose();
    }

    internal static string Seconds(long s) => s.ToString(CultureInfo.InvariantCulture);
}
