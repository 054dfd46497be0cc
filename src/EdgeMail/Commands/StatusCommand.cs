using System.CommandLine;
using System.Globalization;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Hosting;
using EdgeMail.Logging;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail status`: is the daemon up, and how are the queue, the routes, the LEDs and the sensors. Asks the
/// daemon over its status socket when it runs; otherwise reads the spool (queue only) and says the daemon is down.
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
            result.GetValue(json), result.GetValue(verbose), ct));
        return command;
    }

    public static async Task<int> RunAsync(CliContext context, string? configFile, string? spoolDirectory, bool json, bool verbose,
        CancellationToken ct = default)
    {
        if (!CommonOptions.TryLoadConfig(context, configFile, spoolDirectory, out EdgeMailConfig? config))
            return ExitCodes.Config;

        string dir = config.Spool.Directory;
        StatusReport? report = Directory.Exists(dir) ? await StatusReports.AskDaemonAsync(dir, ct).ConfigureAwait(false) : null;
        if (report is null)
        {
            report = new StatusReport { Daemon = false, Spool = dir };
            if (Directory.Exists(dir))
            {
                var sink = new LogSink(context.Error, verbose ? LogLevel.Debug : LogLevel.Error,
                    LogSink.IsJournald(context.GetEnvironmentVariable("JOURNAL_STREAM")), context.Time);
                try
                {
                    using MessageSpool messageSpool = MessageSpool.Open(new SpoolOptions { Directory = dir }, sink.CreateLogger("spool"));
                    StatusReports.FillQueue(report, messageSpool.List(), config.Relay.Upstream, context.Time.GetUtcNow());
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
            + (q.OldestAgeSeconds is { } age ? ", oldest " + Age(age) : ""));
        foreach (RouteResult route in r.Routes)
            o.WriteLine($"route {route.Route}: {route.LastResult ?? "ok"}");
        foreach (UpstreamHealth u in r.Upstreams)
            o.WriteLine($"upstream {u.Url}: {(u.Failing ? "failing" : "ok")}");
        foreach (LedStatus led in r.Leds)
            o.WriteLine($"led {led.Role}: {led.Pattern}{(led.Lit ? " (lit)" : "")}");
        foreach (SensorReading s in r.Sensors)
            o.WriteLine(s.Value is { } v ? string.Create(c, $"sensor {s.Name}: {v:0.##}{s.Unit}") : $"sensor {s.Name}: {s.Error ?? "no reading"}");
        foreach (string alert in r.Alerts)
            o.WriteLine("alert: " + alert);
    }

    private static string Age(long seconds) => seconds switch
    {
        < 120 => seconds.ToString(CultureInfo.InvariantCulture) + "s",
        < 7200 => (seconds / 60).ToString(CultureInfo.InvariantCulture) + "m",
        < 172_800 => (seconds / 3600).ToString(CultureInfo.InvariantCulture) + "h",
        _ => (seconds / 86_400).ToString(CultureInfo.InvariantCulture) + "d",
    };
}
