using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeMail.Device;
using EdgeMail.Relay;
using EdgeMail.Spool;

namespace EdgeMail.Hosting;

/// <summary>What `edgemail status` shows. Built by the daemon (everything) or from the spool's files alone (queue only).</summary>
public sealed class StatusReport
{
    public bool Daemon { get; set; }
    public int? Pid { get; set; }
    public string? Version { get; set; }
    public DateTimeOffset? Started { get; set; }
    public long? UptimeSeconds { get; set; }
    public string Spool { get; set; } = "";
    public QueueSummary Queue { get; set; } = new();
    /// <summary>Per route, from the relay's own record of its attempts (empty while the daemon is down: it is kept in
    /// memory only).</summary>
    public List<RouteHealthEntry> Routes { get; set; } = [];
    /// <summary>While the daemon is down: when it last saved <see cref="Routes"/> (at a route's failing/ok flip and at
    /// its stop), so the routes shown are as of then. Null from a running daemon (its table is live).</summary>
    public DateTimeOffset? RoutesAsOf { get; set; }
    /// <summary>What the error LED shows for the upstream: some route's last attempt was deferred (null while the
    /// daemon is down).</summary>
    public bool? UpstreamFailing { get; set; }
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
    /// <summary>Drops in maildrop/ that the daemon has not imported yet (all of them while it is down).</summary>
    public int Maildrop { get; set; }
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
[JsonSerializable(typeof(List<RouteHealthEntry>))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;

public static class StatusReports
{
    /// <summary>The queue part: the daemon's view of the queue or one read from the files, and the maildrop.</summary>
    public static void FillQueue(StatusReport report, IReadOnlyList<QueueEntry> entries, int maildrop, DateTimeOffset now)
    {
        int held = 0, deferred = 0;
        DateTimeOffset? oldest = null;
        foreach (QueueEntry e in entries)
        {
            if (e.Held) held++;
            else if (e.Attempts > 0) deferred++;
            if (oldest is null || e.Envelope.Arrived < oldest) oldest = e.Envelope.Arrived;
        }
        report.Queue = new QueueSummary
        {
            Depth = entries.Count,
            Held = held,
            Deferred = deferred,
            OldestAgeSeconds = oldest is { } o ? (long)(now - o).TotalSeconds : null,
            Maildrop = maildrop,
        };
    }

    public static void FillDevice(StatusReport report, DeviceStatus device)
    {
        report.Leds = device.Leds.Select(l => new LedStatus { Role = l.Role.ToString().ToLowerInvariant(), Pattern = l.Pattern.ToString(), Lit = l.Lit }).ToList();
        report.Sensors = device.Readings.Select(s => new SensorReading { Name = s.Name, Value = s.Value, Unit = s.Unit, Error = s.Error, At = s.At }).ToList();
        report.Alerts = [.. device.ActiveAlerts];
    }

    public static string ToJson(StatusReport report) => JsonSerializer.Serialize(report, StatusJsonContext.Default.StatusReport);

    /// <summary>The relay's route table as the daemon last saved it, in the spool folder, for `status` while the daemon
    /// is down (the live table is in the daemon's memory).</summary>
    public const string RoutesFileName = "routes.json";

    /// <summary>Replaces the saved route table (write beside, then rename: a reader sees the old file or the new one).
    /// Not fsynced: it is a report, and a power cut costs at most the last flip. Written only when a route flips between
    /// failing and ok and at the daemon's stop, so it costs the SD card nothing per message.</summary>
    public static void SaveRoutes(string spoolDirectory, IReadOnlyList<RouteHealthEntry> routes)
    {
        string path = Path.Combine(spoolDirectory, RoutesFileName);
        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes([.. routes], StatusJsonContext.Default.ListRouteHealthEntry));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The saved route table and when it was saved; false when there is none (never saved, or unreadable).</summary>
    public static bool TryLoadRoutes(string spoolDirectory, out List<RouteHealthEntry> routes, out DateTimeOffset savedAt)
    {
        string path = Path.Combine(spoolDirectory, RoutesFileName);
        routes = [];
        savedAt = default;
        try
        {
            if (!File.Exists(path)) return false;
            savedAt = File.GetLastWriteTimeUtc(path);
            routes = JsonSerializer.Deserialize(File.ReadAllBytes(path), StatusJsonContext.Default.ListRouteHealthEntry) ?? [];
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return false;
        }
    }
}
