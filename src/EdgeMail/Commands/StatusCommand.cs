using System.CommandLine;
using System.Globalization;
using System.Text;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Hosting;
using EdgeMail.Relay;
using EdgeMail.Spool;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail status`: is the daemon up, and how are the queue, the routes, the LEDs and the sensors. Asks the
/// daemon over its socket when it runs; otherwise reads the spool's files (queue and maildrop only, nothing changed)
/// and says the daemon is down.
/// Exit 0 when the daemon runs, 3 when it does not (as `systemctl status` and LSB init scripts do).
/// </summary>
public static class StatusCommand
{
    /// <summary>LSB: "program is not running".</summary>
    public const int NotRunning = 3;

    public static Command Create(CliContext context, Option<bool> verbose)
    {
        Option<string> spool = CommonOptions.Spool();
        Option<string> config = CommonOptions.Config();
        Option<bool> json = new("--json") { Description = "Print one JSON document (snake_case keys)." };
        var command = new Command("status", "Show whether the daemon runs, the queue, routes, LEDs, sensors and active alerts.")
        {
            spool, config, json,
        };
        command.SetAction((result, ct) => RunAsync(context, result.GetValue(config), result.GetValue(spool),
            result.GetValue(json), ct));
        return command;
    }

    public static async Task<int> RunAsync(CliContext context, string? configFile, string? spoolDirectory, bool json,
        CancellationToken ct = default)
    {
        if (!CommonOptions.TryLoadConfig(context, configFile, spoolDirectory, out EdgeMailConfig? config))
            return ExitCodes.Config;

        string dir = config.Spool.Directory;
        StatusReport? report = Directory.Exists(dir) ? await DaemonClient.StatusAsync(dir, ct).ConfigureAwait(false) : null;
        if (report is null)
        {
            report = new StatusReport { Daemon = false, Spool = dir };
            if (Directory.Exists(dir))
            {
                try
                {
                    // Read, not opened: a status look must not run recovery or import the maildrop in the daemon's place.
                    IReadOnlyList<QueueEntry> drops = QueueListing.ReadMaildrop(dir);
                    StatusReports.FillQueue(report, MessageSpool.ReadQueue(dir), drops.Count, context.Time.GetUtcNow());
                    if (StatusReports.TryLoadRoutes(dir, out List<RouteHealthEntry> routes, out DateTimeOffset savedAt))
                        (report.Routes, report.RoutesAsOf) = (routes, savedAt);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
                {
                    context.Fail($"cannot read the spool folder {dir}: {e.Message}");
                    return ExitCodes.IoError;
                }
            }
        }

        if (json) context.Out.WriteLine(StatusReports.ToJson(report));
        else WriteText(context.Out, report);
        context.Out.Flush();
        return report.Daemon ? ExitCodes.Ok : NotRunning;
    }

    private static void WriteText(TextWriter o, StatusReport r)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        o.WriteLine(r.Daemon
            ? string.Create(c, $"daemon: running (pid {r.Pid}, version {r.Version}, up {Age(r.UptimeSeconds ?? 0)})")
            : "daemon: not running");
        o.WriteLine("spool: " + r.Spool);
        QueueSummary q = r.Queue;
        o.WriteLine(string.Create(c, $"queue: {q.Depth} message(s), {q.Deferred} deferred, {q.Held} held")
            + (q.OldestAgeSeconds is { } age ? ", oldest " + Age(age) : "")
            + (q.Maildrop > 0 ? string.Create(c, $"; {q.Maildrop} in maildrop waiting for the daemon") : ""));
        if (r.RoutesAsOf is { } asOf && r.Routes.Count > 0)
            o.WriteLine(string.Create(c, $"routes as the daemon last saw them, {asOf.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z:"));
        foreach (RouteHealthEntry route in r.Routes)
            o.WriteLine(RouteLine(route));
        if (r.UpstreamFailing == true)
            o.WriteLine("upstream: failing (the error LED is on)");
        foreach (LedStatus led in r.Leds)
            o.WriteLine($"led {led.Role}: {led.Pattern}{(led.Lit ? " (lit)" : "")}");
        foreach (SensorReading s in r.Sensors)
            o.WriteLine(s.Value is { } v ? string.Create(c, $"sensor {s.Name}: {v:0.##}{s.Unit}") : $"sensor {s.Name}: {s.Error ?? "no reading"}");
        foreach (string alert in r.Alerts)
            o.WriteLine("alert: " + alert);
    }

    /// <summary>"route NAME (HOSTS): ok | failing since T (N attempts) | never tried[, last RESULT T via HOST: REPLY]".</summary>
    internal static string RouteLine(RouteHealthEntry route)
    {
        var line = new StringBuilder("route ").Append(route.Route);
        if (route.Hosts.Length > 0) line.Append(" (").Append(route.Hosts).Append(')');
        line.Append(": ");
        if (route.LastAttempt is not { } last) return line.Append("never tried").ToString();
        int n = route.ConsecutiveFailures;
        if (n > 0)
            line.Append("failing since ").Append(Time(route.FailingSince ?? last)).Append(" (").Append(n.ToString(CultureInfo.InvariantCulture))
                .Append(n == 1 ? " attempt)" : " attempts)");
        else
            line.Append("ok");
        line.Append(", last ").Append(route.LastResult).Append(' ').Append(Time(last));
        if (route.Host is not null) line.Append(" via ").Append(route.Host);
        if (route.LastReply is not null) line.Append(": ").Append(route.LastReply);
        return line.ToString();
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Age(long seconds) => seconds switch
    {
        < 120 => seconds.ToString(CultureInfo.InvariantCulture) + "s",
        < 7200 => (seconds / 60).ToString(CultureInfo.InvariantCulture) + "m",
        < 172_800 => (seconds / 3600).ToString(CultureInfo.InvariantCulture) + "h",
        _ => (seconds / 86_400).ToString(CultureInfo.InvariantCulture) + "d",
    };
}
