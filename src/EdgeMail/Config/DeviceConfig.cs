using EdgeMail.Device;
using EdgeMail.Device.Alerts;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Sensors;

namespace EdgeMail.Config;

// The device sections are flat tables and arrays of tables, because the schema walker (and the
// "every key is documented" check) know exactly those two shapes: [[leds]] with a name instead of
// [leds.status], the timings in [leds_timing], the digest as two keys of [alerts].

/// <summary>One [[leds]] entry: which GPIO line drives which light.</summary>
public sealed class LedEntry
{
    public string Name { get; set; } = "";
    public int Chip { get; set; }
    public int Line { get; set; }
    public bool ActiveLow { get; set; }

    public static ConfigSection Schema { get; } = new("leds",
    [
        new("name", ConfigValueType.OneOf("status", "queue", "error", "activity")),
        new("chip", ConfigValueType.Integer(0, 63)),
        new("line", ConfigValueType.Integer(0, 1023)),
        new("active_low", ConfigValueType.Boolean),
    ], IsArray: true);
}

/// <summary>[leds_timing] — the patterns' durations in milliseconds.</summary>
public sealed class LedTimingConfig
{
    public int HeartbeatBeatMs { get; set; } = 100;
    public int HeartbeatPeriodMs { get; set; } = 1500;
    public int SlowBlinkMs { get; set; } = 1000;
    public int FastBlinkMs { get; set; } = 125;
    public int FlashMs { get; set; } = 60;
    public int FlashGapMs { get; set; } = 90;

    private static ConfigValueType Ms { get; } = ConfigValueType.Integer(10, 60_000);

    public static ConfigSection Schema { get; } = new("leds_timing",
    [
        new("heartbeat_beat_ms", Ms),
        new("heartbeat_period_ms", Ms),
        new("slow_blink_ms", Ms),
        new("fast_blink_ms", Ms),
        new("flash_ms", Ms),
        new("flash_gap_ms", Ms),
    ]);
}

/// <summary>[alerts] — who alert mail comes from, how often sensors are read, the daily digest.</summary>
public sealed class AlertsConfig
{
    public string From { get; set; } = "edgemail@localhost";
    public string Hostname { get; set; } = "";
    public long Interval { get; set; } = 30;
    public string SysfsRoot { get; set; } = "/sys";
    public List<string> LostTo { get; set; } = [];
    public long LostCooldown { get; set; } = 3600;
    public string DigestAt { get; set; } = "";
    public List<string> DigestTo { get; set; } = [];

    public static ConfigSection Schema { get; } = new("alerts",
    [
        new("from", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a mail address")),
        new("hostname", ConfigValueType.Text(_ => null, "a host name, or \"\" for the [server] hostname")),
        new("interval", ConfigValueType.Seconds(1, 86_400)),
        new("sysfs_root", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a folder path")),
        new("lost_to", ConfigValueType.ListOf(ConfigValueType.Text(_ => null, "a mail address"))),
        new("lost_cooldown", ConfigValueType.Seconds(0, 7 * 86_400)),
        new("digest_at", ConfigValueType.Text(s => s.Length == 0 || TimeOnly.TryParseExact(s, "HH:mm", out _) ? null : $"\"{s}\" is not a time of day",
            "\"HH:MM\" (local time), or \"\" for no digest")),
        new("digest_to", ConfigValueType.ListOf(ConfigValueType.Text(_ => null, "a mail address"))),
    ]);
}

/// <summary>One [[sensors]] entry.</summary>
public sealed class SensorEntry
{
    public string Name { get; set; } = "";
    public string Type { get; set; } = "";
    public string Device { get; set; } = "";
    public string Channel { get; set; } = "";
    public int Chip { get; set; }
    public int Line { get; set; }
    public bool ActiveLow { get; set; }
    public string Pull { get; set; } = "none";
    public int DebounceMs { get; set; } = 50;
    public string Path { get; set; } = "";

    public static ConfigSection Schema { get; } = new("sensors",
    [
        new("name", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a name for rules to refer to")),
        new("type", ConfigValueType.OneOf("thermal", "hwmon", "iio", "w1", "gpio", "spool", "throttled")),
        new("device", ConfigValueType.Text(_ => null, "a device name or id")),
        new("channel", ConfigValueType.Text(_ => null, "a channel name")),
        new("chip", ConfigValueType.Integer(0, 63)),
        new("line", ConfigValueType.Integer(0, 1023)),
        new("active_low", ConfigValueType.Boolean),
        new("pull", ConfigValueType.OneOf("up", "down", "none")),
        new("debounce_ms", ConfigValueType.Integer(0, 60_000)),
        new("path", ConfigValueType.Text(_ => null, "a folder path")),
    ], IsArray: true);
}

/// <summary>One [[rules]] entry; exactly one of <see cref="Above"/> and <see cref="Below"/>.</summary>
public sealed class RuleEntry
{
    public string Name { get; set; } = "";
    public string Source { get; set; } = "";
    public double? Above { get; set; }
    public double? Below { get; set; }
    public double Hysteresis { get; set; }
    public long For { get; set; }
    public List<string> To { get; set; } = [];
    public string Subject { get; set; } = AlertRule.DefaultSubject;
    public long Cooldown { get; set; } = 900;
    public bool Resolved { get; set; } = true;

    public static ConfigSection Schema { get; } = new("rules",
    [
        new("name", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a name for subjects and logs")),
        new("source", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a [[sensors]] name")),
        new("above", ConfigValueType.Number(-1e9, 1e9)),
        new("below", ConfigValueType.Number(-1e9, 1e9)),
        new("hysteresis", ConfigValueType.Number(0, 1e9)),
        new("for", ConfigValueType.Seconds(0, 7 * 86_400)),
        new("to", ConfigValueType.ListOf(ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : null, "a mail address"), 1)),
        new("subject", ConfigValueType.Text(_ => null, "a subject template")),
        new("cooldown", ConfigValueType.Seconds(0, 7 * 86_400)),
        new("resolved", ConfigValueType.Boolean),
    ], IsArray: true);
}

/// <summary>The device sections → <see cref="DeviceOptions"/>, and the checks that span keys (each with its line).</summary>
public static class DeviceSections
{
    /// <param name="hostName">for alert subjects when [alerts] hostname is ""; null = the system's host name.</param>
    public static DeviceOptions ToOptions(EdgeMailConfig config, string? hostName = null)
    {
        AlertsConfig a = config.Alerts;
        LedTimingConfig t = config.LedsTiming;
        TimeSpan interval = TimeSpan.FromSeconds(a.Interval);
        string host = a.Hostname.Length > 0 ? a.Hostname : hostName is { Length: > 0 } ? hostName : Environment.MachineName;
        bool mails = config.Rules.Count > 0 || a.DigestAt.Length > 0 || a.LostTo.Count > 0;
        return new DeviceOptions
        {
            Leds = new LedOptions
            {
                Leds = config.Leds.Select(l => new LedConfig { Role = Role(l.Name), Chip = l.Chip, Line = l.Line, ActiveLow = l.ActiveLow }).ToList(),
                Timings = new LedTimings
                {
                    HeartbeatBeat = TimeSpan.FromMilliseconds(t.HeartbeatBeatMs),
                    HeartbeatPeriod = TimeSpan.FromMilliseconds(t.HeartbeatPeriodMs),
                    SlowBlink = TimeSpan.FromMilliseconds(t.SlowBlinkMs),
                    FastBlink = TimeSpan.FromMilliseconds(t.FastBlinkMs),
                    FlashOn = TimeSpan.FromMilliseconds(t.FlashMs),
                    FlashGap = TimeSpan.FromMilliseconds(t.FlashGapMs),
                },
            },
            Sensors = config.Sensors.Select(s => new SensorConfig
            {
                Name = s.Name,
                Kind = Kind(s.Type),
                Device = s.Device,
                Channel = s.Channel,
                Chip = s.Chip,
                Line = s.Line,
                ActiveLow = s.ActiveLow,
                Pull = s.Pull,
                Debounce = TimeSpan.FromMilliseconds(s.DebounceMs),
                Path = s.Path,
            }).ToList(),
            SysfsRoot = a.SysfsRoot,
            Interval = interval,
            Alerts = mails ? new AlertOptions
            {
                From = a.From,
                HostName = host,
                Interval = interval,
                LostTo = a.LostTo,
                LostCooldown = TimeSpan.FromSeconds(a.LostCooldown),
                Digest = a.DigestAt.Length > 0 ? new DigestOptions { At = TimeOnly.ParseExact(a.DigestAt, "HH:mm"), To = a.DigestTo } : null,
                Rules = config.Rules.Select(Rule).ToList(),
            } : null,
        };
    }

    private static AlertRule Rule(RuleEntry r) => new()
    {
        Name = r.Name,
        Source = r.Source,
        Above = r.Above,
        Below = r.Below,
        Hysteresis = r.Hysteresis,
        For = TimeSpan.FromSeconds(r.For),
        To = r.To,
        Subject = r.Subject,
        Cooldown = TimeSpan.FromSeconds(r.Cooldown),
        Resolved = r.Resolved,
    };

    private static LedRole Role(string name) => name switch
    {
        "status" => LedRole.Status,
        "queue" => LedRole.Queue,
        "error" => LedRole.Error,
        "activity" => LedRole.Activity,
        _ => throw new ConfigException("leds.name", "missing", "one of \"status\", \"queue\", \"error\", \"activity\""),
    };

    private static SensorKind Kind(string type) => type switch
    {
        "thermal" => SensorKind.Thermal,
        "hwmon" => SensorKind.Hwmon,
        "iio" => SensorKind.Iio,
        "w1" => SensorKind.W1,
        "gpio" => SensorKind.Gpio,
        "spool" => SensorKind.Spool,
        "throttled" => SensorKind.Throttled,
        _ => throw new ConfigException("sensors.type", "missing", "thermal, hwmon, iio, w1, gpio, spool or throttled"),
    };

    /// <summary>Checks that need more than one key (a rule's sensor exists, names are unique, one of above/below),
    /// reported at the entry's line; then <see cref="DeviceHost.Validate"/> as a last word.</summary>
    /// <exception cref="ConfigException"/>
    internal static void Validate(EdgeMailConfig config, ConfigLocations where)
    {
        var ledNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Leds.Count; i++)
        {
            LedEntry led = config.Leds[i];
            if (led.Name.Length == 0)
                throw where.Error("leds", i, "name", "leds.name", "missing", "one of \"status\", \"queue\", \"error\", \"activity\"");
            if (!ledNames.Add(led.Name))
                throw where.Error("leds", i, "name", "leds.name", $"\"{led.Name}\" is configured twice", "each light once");
        }

        var sensorNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Sensors.Count; i++)
        {
            SensorEntry s = config.Sensors[i];
            if (s.Name.Length == 0)
                throw where.Error("sensors", i, "name", "sensors.name", "missing", "a name for rules to refer to");
            if (s.Type.Length == 0)
                throw where.Error("sensors", i, "type", "sensors.type", "missing", "thermal, hwmon, iio, w1, gpio, spool or throttled");
            if (!sensorNames.Add(s.Name))
                throw where.Error("sensors", i, "name", "sensors.name", $"the name \"{s.Name}\" is used twice", "unique names");
        }

        var ruleNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Rules.Count; i++)
        {
            RuleEntry r = config.Rules[i];
            if (r.Name.Length == 0)
                throw where.Error("rules", i, "name", "rules.name", "missing", "a name for subjects and logs");
            if (!ruleNames.Add(r.Name))
                throw where.Error("rules", i, "name", "rules.name", $"the name \"{r.Name}\" is used twice", "unique names");
            if (!sensorNames.Contains(r.Source))
                throw where.Error("rules", i, "source", "rules.source", $"rule {r.Name}: no sensor named \"{r.Source}\"",
                    sensorNames.Count > 0 ? string.Join(", ", sensorNames) : "a [[sensors]] name (there are none)");
            if (r.Above.HasValue == r.Below.HasValue)
                throw where.Error("rules", i, r.Above.HasValue ? "below" : "", "rules.above", $"rule {r.Name}: set exactly one of above or below", "above = N or below = N");
            if (r.To.Count == 0)
                throw where.Error("rules", i, "name", "rules.to", $"rule {r.Name}: no recipients", "an array of at least one address");
            if (Rule(r).Validate() is { } problem)
                throw where.Error("rules", i, "name", "rules", problem, null);
        }

        DeviceOptions options = ToOptions(config);
        if (options.Alerts is not null && !MimeKit.MailboxAddress.TryParse(config.Alerts.From, out _))
            throw where.Error("alerts", -1, "from", "alerts.from", $"\"{config.Alerts.From}\" is not an address", "a mail address");
        if (DeviceHost.Validate(options) is [string first, ..])
            throw where.Error("alerts", -1, "", "device", first, null);
    }
}
