using EdgeMail.Device.Alerts;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Sensors;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Device;

/// <summary>Everything the device part needs from the configuration ([[leds]], [leds_timing], [alerts], [[sensors]], [[rules]]).</summary>
public sealed class DeviceOptions
{
    public LedOptions Leds { get; init; } = new();
    public IReadOnlyList<SensorConfig> Sensors { get; init; } = [];
    /// <summary>Null: sensors are still read (for `edgemail status`) but nothing is mailed.</summary>
    public AlertOptions? Alerts { get; init; }
    public string SysfsRoot { get; init; } = "/sys";
    /// <summary>Sampling interval when <see cref="Alerts"/> is null.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>What `edgemail status` shows about the device.</summary>
public sealed record DeviceStatus(
    IReadOnlyList<(LedRole Role, LedPattern Pattern, bool Lit)> Leds,
    IReadOnlyList<SensorSample> Readings,
    IReadOnlyList<string> ActiveAlerts);

/// <summary>
/// The daemon's one call for the device part: LEDs, sensors and alert rules, running until disposed.
/// Alerts go into <paramref name="spool"/>; the rest of the daemon reports through <see cref="State"/>.
/// Nothing here can stop the daemon: missing hardware is logged once and skipped.
/// </summary>
public sealed class DeviceHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _lightsTask, _alertsTask;

    public DeviceState State { get; }
    public StatusLights Lights { get; }
    public SensorSet Sensors { get; }
    public AlertEngine Alerts { get; }

    /// <summary>Configuration errors to report (exit 78) before <see cref="Start"/>.</summary>
    public static IReadOnlyList<string> Validate(DeviceOptions options)
    {
        var errors = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in options.Sensors)
            if (!names.Add(s.Name))
                errors.Add($"sensors: the name \"{s.Name}\" is used twice");
        var roles = new HashSet<LedRole>();
        var twice = new HashSet<LedRole>();
        foreach (var led in options.Leds.Leds)
            if (!roles.Add(led.Role) && twice.Add(led.Role))
                errors.Add($"leds: {led.Role} is configured twice");
        if (options.Alerts is { } a)
            errors.AddRange(AlertEngine.Validate(a, names));
        return errors;
    }

    public static DeviceHost Start(DeviceOptions options, MessageSpool spool, DeviceState? state = null,
        TimeProvider? time = null, ILogger? logger = null)
        => Start(options, new SpoolAlertSink(spool), spool.Directory, state, time, logger);

    internal static DeviceHost Start(DeviceOptions options, IAlertSink sink, string? spoolDirectory, DeviceState? state,
        TimeProvider? time, ILogger? logger)
        => new(options, sink, spoolDirectory, state ?? new DeviceState(), time ?? TimeProvider.System, logger ?? NullLogger.Instance);

    private DeviceHost(DeviceOptions options, IAlertSink sink, string? spoolDirectory, DeviceState state, TimeProvider time, ILogger logger)
    {
        State = state;
        Lights = StatusLights.Open(options.Leds, state, time, logger);
        // The error LED watches the spool's file system even when no [[sensors]] entry asks for it.
        var sensors = options.Sensors.ToList();
        var spoolSensor = sensors.FirstOrDefault(s => s.Kind == SensorKind.Spool)?.Name;
        if (spoolSensor is null && spoolDirectory is not null)
        {
            spoolSensor = sensors.Any(s => s.Name == "spool") ? "spool-fill" : "spool";
            sensors.Add(new SensorConfig { Name = spoolSensor, Kind = SensorKind.Spool, Path = spoolDirectory });
        }
        Sensors = SensorSet.Create(sensors, new SensorSetOptions { SysfsRoot = options.SysfsRoot }, time, logger);
        Alerts = new AlertEngine(options.Alerts ?? new AlertOptions { From = "edgemail@localhost", Interval = options.Interval },
            Sensors, sink, time, logger, state) { SpoolSensor = spoolSensor };
        _lightsTask = Lights.HasOutputs ? Task.Run(() => Lights.RunAsync(_stop.Token)) : Task.CompletedTask;
        _alertsTask = sensors.Count > 0 ? Task.Run(() => Alerts.RunAsync(_stop.Token)) : Task.CompletedTask;
    }

    public DeviceStatus Status() => new(Lights.Snapshot(), Alerts.LatestReadings, Alerts.ActiveAlerts);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_lightsTask, _alertsTask).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Lights.Dispose();
        Sensors.Dispose();
        _stop.Dispose();
    }
}
