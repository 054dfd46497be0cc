using System.Device.Gpio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Device.Sensors;

public sealed class SensorSetOptions
{
    /// <summary>Where sysfs is mounted; tests point it at a fake tree.</summary>
    public string SysfsRoot { get; init; } = "/sys";
    /// <summary>Opens the GPIO controller for a chip (null = no GPIO); default: libgpiod, as the LEDs.</summary>
    public Func<int, GpioController?>? Gpio { get; init; }
}

/// <summary>
/// The configured sensors. <see cref="Sample"/> reads them all; a sensor that is missing, unreadable
/// or returns garbage yields a sample without a value and ONE log line when it is lost (and one when
/// it is back) — never an exception.
/// </summary>
public sealed class SensorSet : IDisposable
{
    private readonly Sensor[] _sensors;
    private readonly bool[] _lost;
    private readonly ILogger _logger;
    private readonly List<GpioController> _controllers = [];

    public static SensorSet Create(IReadOnlyList<SensorConfig> configs, SensorSetOptions? options = null,
        TimeProvider? time = null, ILogger? logger = null)
    {
        options ??= new SensorSetOptions();
        time ??= TimeProvider.System;
        logger ??= NullLogger.Instance;
        var controllers = new Dictionary<int, (GpioController? Controller, string Reason)>();
        var opened = new List<GpioController>();
        var sensors = new List<Sensor>();
        foreach (var c in configs)
            sensors.Add(Build(c, options, time, controllers, opened));
        var set = new SensorSet(sensors.ToArray(), logger);
        set._controllers.AddRange(opened);
        return set;
    }

    private SensorSet(Sensor[] sensors, ILogger logger)
    {
        _sensors = sensors;
        _lost = new bool[sensors.Length];
        _logger = logger;
    }

    public IReadOnlyList<string> Names => _sensors.Select(s => s.Name).ToArray();

    public int LostCount { get { lock (_lost) return _lost.Count(l => l); } }

    public IReadOnlyList<SensorSample> Sample(DateTimeOffset now)
    {
        var samples = new SensorSample[_sensors.Length];
        for (var i = 0; i < _sensors.Length; i++)
        {
            var s = _sensors[i];
            double value;
            string error;
            bool ok;
            try
            {
                ok = s.TryRead(now, out value, out error);
            }
            catch (Exception e)
            {
                // A vanished device shows up as ENOENT, ENODEV, EIO, EACCES... whatever it is, the
                // sensor is lost and the daemon keeps going.
                ok = false;
                value = 0;
                error = $"{e.GetType().Name}: {e.Message}";
            }
            samples[i] = new SensorSample(s.Name, s.Unit, ok ? value : null, ok ? null : error, now);
            lock (_lost)
            {
                if (!ok && !_lost[i])
                    _logger.LogWarning("Sensor {Sensor} lost: {Reason}", s.Name, error);
                else if (ok && _lost[i])
                    _logger.LogInformation("Sensor {Sensor} is back: {Value}{Unit}", s.Name, SysfsFile.Format(value), s.Unit);
                _lost[i] = !ok;
            }
        }
        return samples;
    }

    private static Sensor Build(SensorConfig c, SensorSetOptions o, TimeProvider time,
        Dictionary<int, (GpioController?, string)> controllers, List<GpioController> opened)
    {
        var root = o.SysfsRoot;
        switch (c.Kind)
        {
            case SensorKind.Thermal:
                return new ScaledFileSensor(c.Name, "°C", () => ThermalZone(root, c.Device), "thermal zone " + c.Device, 1000);
            case SensorKind.Hwmon:
            {
                var (unit, divisor) = HwmonUnit(c.Channel);
                return new ScaledFileSensor(c.Name, unit, () => HwmonAttribute(root, c.Device, c.Channel),
                    $"hwmon {c.Device}/{c.Channel}", divisor);
            }
            case SensorKind.Iio:
            {
                // Kernel IIO units (Documentation/ABI/testing/sysfs-bus-iio): temperature in
                // millidegrees C, relative humidity in milli-percent, pressure in kilopascal.
                var (unit, divisor) = c.Channel switch
                {
                    "temp" => ("°C", 1000.0),
                    "humidityrelative" => ("%", 1000.0),
                    "pressure" => ("hPa", 0.1),
                    _ => ("", 1.0),
                };
                return new IioSensor(c.Name, unit, () => IioDevice(root, c.Device, c.Channel), c.Channel, divisor);
            }
            case SensorKind.W1:
                return new W1Sensor(c.Name, () => W1Device(root, c.Device));
            case SensorKind.Spool:
                return new SpoolSpaceSensor(c.Name, c.Path);
            case SensorKind.Throttled:
                return new ThrottledSensor(c.Name, root, c.Channel, () => HwmonAttribute(root, "rpi_volt", "in0_lcrit_alarm"));
            case SensorKind.Gpio:
            {
                if (!controllers.TryGetValue(c.Chip, out var entry))
                {
                    GpioController? controller = null;
                    var reason = "";
                    if (o.Gpio is not null)
                        controller = o.Gpio(c.Chip);
                    else if (Leds.StatusLights.OpenLibgpiod(c.Chip, out reason) is { } driver)
                        controller = new GpioController(driver);
                    if (controller is not null)
                        opened.Add(controller);
                    controllers[c.Chip] = entry = (controller, reason.Length > 0 ? reason : $"no GPIO chip {c.Chip}");
                }
                if (entry.Item1 is null)
                    return new UnavailableSensor(c.Name, entry.Item2);
                try
                {
                    return new GpioInputSensor(c, entry.Item1, time);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
                {
                    return new UnavailableSensor(c.Name, $"GPIO chip {c.Chip} line {c.Line}: {e.Message}");
                }
            }
            default:
                return new UnavailableSensor(c.Name, $"unknown sensor kind {c.Kind}");
        }
    }

    // hwmon sysfs-interface: temp in millidegrees C, in (voltage) in millivolts, fan in RPM, alarms 0/1.
    internal static (string Unit, double Divisor) HwmonUnit(string attribute) =>
        attribute.EndsWith("_alarm", StringComparison.Ordinal) ? ("", 1.0)
        : attribute.StartsWith("temp", StringComparison.Ordinal) ? ("°C", 1000.0)
        : attribute.StartsWith("in", StringComparison.Ordinal) ? ("V", 1000.0)
        : attribute.StartsWith("fan", StringComparison.Ordinal) ? ("RPM", 1.0)
        : ("", 1.0);

    private static string? ThermalZone(string root, string device)
    {
        var dir = Path.Combine(root, "class/thermal");
        if (device.Length == 0 || int.TryParse(device, out _))
            return Path.Combine(dir, $"thermal_zone{(device.Length == 0 ? "0" : device)}", "temp");
        return FindByFile(dir, "thermal_zone*", "type", device) is { } zone ? Path.Combine(zone, "temp") : null;
    }

    private static string? HwmonAttribute(string root, string chip, string attribute)
    {
        var dir = FindByFile(Path.Combine(root, "class/hwmon"), "hwmon*", "name", chip);
        if (dir is null || attribute.Contains('/') || attribute.Contains(".."))
            return null;
        var direct = Path.Combine(dir, attribute);
        // Older drivers keep their attributes one level down, under device/.
        return File.Exists(direct) ? direct : Path.Combine(dir, "device", attribute);
    }

    private static string? IioDevice(string root, string name, string channel)
    {
        var dir = Path.Combine(root, "bus/iio/devices");
        if (name.Length > 0)
            return FindByFile(dir, "iio:device*", "name", name);
        if (!Directory.Exists(dir))
            return null;
        return Directory.EnumerateDirectories(dir, "iio:device*").Order(StringComparer.Ordinal)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, $"in_{channel}_input")) || File.Exists(Path.Combine(d, $"in_{channel}_raw")));
    }

    private static string? W1Device(string root, string id)
    {
        var dir = Path.Combine(root, "bus/w1/devices");
        if (!Directory.Exists(dir))
            return null;
        if (id.Length > 0)
        {
            var path = Path.Combine(dir, id);
            return id.Contains('/') || id.Contains("..") || !Directory.Exists(path) ? null : path;
        }
        // Without an id, only an unambiguous single DS18B20 (family code 28) is used.
        var all = Directory.GetDirectories(dir, "28-*");
        return all.Length == 1 ? all[0] : null;
    }

    private static string? FindByFile(string dir, string pattern, string file, string expected)
    {
        if (!Directory.Exists(dir))
            return null;
        foreach (var d in Directory.EnumerateDirectories(dir, pattern).Order(StringComparer.Ordinal))
        {
            var f = Path.Combine(d, file);
            try
            {
                if (File.Exists(f) && SysfsFile.ReadText(f) == expected)
                    return d;
            }
            catch (IOException)
            {
                // A device going away while we look: not this one.
            }
        }
        return null;
    }

    public void Dispose()
    {
        foreach (var s in _sensors)
            s.Dispose();
        foreach (var c in _controllers)
            c.Dispose();
    }
}
