using EdgeMail.Config;
using EdgeMail.Device;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Sensors;
using EdgeMail.Hosting;

namespace EdgeMail.Tests;

/// <summary>[[leds]], [leds_timing], [alerts], [[sensors]], [[rules]] → DeviceOptions, and their errors with lines.</summary>
public sealed class DeviceConfigTests
{
    private static DeviceOptions Options(string toml) => Composition.Device(ConfigText.Load(toml), "mail.lan");

    [Fact]
    public void Without_device_sections_there_are_no_lights_no_sensors_and_no_alert_mail()
    {
        DeviceOptions o = Options("");

        Assert.Empty(o.Leds.Leds);
        Assert.Empty(o.Sensors);
        Assert.Null(o.Alerts);
        Assert.Equal("/sys", o.SysfsRoot);
        Assert.Equal(TimeSpan.FromSeconds(30), o.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), o.Leds.Timings.HeartbeatPeriod);
    }

    [Fact]
    public void Each_leds_entry_becomes_a_light_with_its_chip_line_and_polarity()
    {
        DeviceOptions o = Options("""
            [[leds]]
            name = "status"
            line = 17
            [[leds]]
            name = "error"
            chip = 4
            line = 22
            active_low = true
            """);

        Assert.Collection(o.Leds.Leds,
            l => Assert.Equal((LedRole.Status, 0, 17, false), (l.Role, l.Chip, l.Line, l.ActiveLow)),
            l => Assert.Equal((LedRole.Error, 4, 22, true), (l.Role, l.Chip, l.Line, l.ActiveLow)));
    }

    [Fact]
    public void Leds_timing_keys_are_milliseconds()
    {
        LedTimings t = Options("""
            [leds_timing]
            heartbeat_beat_ms = 80
            heartbeat_period_ms = 2000
            slow_blink_ms = 700
            fast_blink_ms = 100
            flash_ms = 40
            flash_gap_ms = 70
            """).Leds.Timings;

        Assert.Equal([80, 2000, 700, 100, 40, 70],
            new[] { t.HeartbeatBeat, t.HeartbeatPeriod, t.SlowBlink, t.FastBlink, t.FlashOn, t.FlashGap }.Select(d => (int)d.TotalMilliseconds));
    }

    [Fact]
    public void Sensors_and_rules_map_with_their_units_and_the_alerts_section_around_them()
    {
        DeviceOptions o = Options("""
            [alerts]
            from = "pi@lan.test"
            interval = 5
            sysfs_root = "/tmp/fake-sys"
            lost_to = ["ops@lan.test"]
            lost_cooldown = 60
            digest_at = "07:30"
            digest_to = ["boss@lan.test"]

            [[sensors]]
            name = "door"
            type = "gpio"
            chip = 0
            line = 5
            active_low = true
            pull = "up"
            debounce_ms = 20

            [[rules]]
            name = "door-open"
            source = "door"
            above = 0.5
            hysteresis = 0.25
            for = 300
            to = ["facility@lan.test"]
            subject = "door {state}"
            cooldown = 120
            resolved = false
            """);

        SensorConfig door = Assert.Single(o.Sensors);
        Assert.Equal((SensorKind.Gpio, 5, true, "up", TimeSpan.FromMilliseconds(20)), (door.Kind, door.Line, door.ActiveLow, door.Pull, door.Debounce));
        Assert.Equal("/tmp/fake-sys", o.SysfsRoot);
        var a = o.Alerts!;
        Assert.Equal(("pi@lan.test", "mail.lan", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60)), (a.From, a.HostName, a.Interval, a.LostCooldown));
        Assert.Equal(["ops@lan.test"], a.LostTo);
        Assert.Equal(new TimeOnly(7, 30), a.Digest!.At);
        Assert.Equal(["boss@lan.test"], a.Digest.To);
        var rule = Assert.Single(a.Rules);
        Assert.Equal(("door-open", "door", 0.5, (double?)null, 0.25), (rule.Name, rule.Source, rule.Above, rule.Below, rule.Hysteresis));
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(2), false, "door {state}"), (rule.For, rule.Cooldown, rule.Resolved, rule.Subject));
        Assert.Equal(["facility@lan.test"], rule.To);
    }

    [Fact]
    public void An_integer_threshold_below_zero_is_a_number_like_any_other()
    {
        var rule = Assert.Single(Options("""
            [[sensors]]
            name = "freezer"
            type = "w1"
            [[rules]]
            name = "warm"
            source = "freezer"
            below = -15
            to = ["a@b.test"]
            """).Alerts!.Rules);

        Assert.Equal(-15.0, rule.Below);
        Assert.Equal(EdgeMail.Device.Alerts.AlertRule.DefaultSubject, rule.Subject);
        Assert.Equal(TimeSpan.FromMinutes(15), rule.Cooldown);
    }

    [Fact]
    public void An_alerts_hostname_wins_over_the_server_name()
    {
        Assert.Equal("freezer-pi", Options("[alerts]\nhostname = \"freezer-pi\"\nlost_to = [\"a@b.test\"]").Alerts!.HostName);
    }

    [Theory]
    [InlineData("[[leds]]\nname = \"status\"\ncolour = \"red\"", "leds.colour", 3)]
    [InlineData("[[leds]]\nname = \"status\"\nline = 5000", "leds.line", 3)]
    [InlineData("[[leds]]\nname = \"blue\"", "leds.name", 2)]
    [InlineData("[[leds]]\nname = \"status\"\n[[leds]]\nname = \"status\"", "leds.name", 4)]
    [InlineData("[[leds]]\nline = 4", "leds.name", 1)]
    [InlineData("[leds]\nline = 4", "leds", 1)]
    [InlineData("[leds_timing]\nflash_ms = 0", "leds_timing.flash_ms", 2)]
    [InlineData("[alerts]\n\nfrom = \"not an address\"\nlost_to = [\"a@b.test\"]", "alerts.from", 3)]
    [InlineData("[alerts]\ndigest_at = \"25:00\"", "alerts.digest_at", 2)]
    [InlineData("[[sensors]]\nname = \"door\"\ntype = \"gpio\"\nline = -1", "sensors.line", 4)]
    [InlineData("[[sensors]]\nname = \"x\"\ntype = \"radar\"", "sensors.type", 3)]
    [InlineData("[[sensors]]\nname = \"x\"\ntype = \"w1\"\n[[sensors]]\nname = \"x\"\ntype = \"w1\"", "sensors.name", 5)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"t\"\nabove = \"hot\"\nto = [\"a@b.test\"]", "rules.above", 7)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"t\"\nabove = 1\nbelow = 0\nto = [\"a@b.test\"]", "rules.above", 8)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"t\"\nto = [\"a@b.test\"]", "rules.above", 4)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"nope\"\nabove = 1\nto = [\"a@b.test\"]", "rules.source", 6)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"t\"\nabove = 1\nto = []", "rules.to", 8)]
    [InlineData(Sensor + "[[rules]]\nname = \"r\"\nsource = \"t\"\nabove = 1\nhysteresis = -2\nto = [\"a@b.test\"]", "rules.hysteresis", 8)]
    public void A_bad_device_value_names_its_key_and_line(string toml, string key, int line)
    {
        ConfigException e = ConfigText.Error(toml);

        Assert.Equal(key, e.Key);
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"test.toml:{line}:", e.Message);
    }

    private const string Sensor = "[[sensors]]\nname = \"t\"\ntype = \"thermal\"\n";

    [Fact]
    public void The_worked_examples_in_the_shipped_config_load_and_validate_when_uncommented()
    {
        string text = ConfigLoader.EmbeddedText();
        var uncommented = new List<string>();
        foreach (string line in text.Split('\n'))
        {
            // "# [[rules]]" and the "# key = value" lines below it; the prose between them stays a comment.
            if (line.StartsWith("# [[", StringComparison.Ordinal) || (line.Length > 2 && line.StartsWith("# ", StringComparison.Ordinal)
                    && char.IsAsciiLetterLower(line[2]) && line.Contains(" = ", StringComparison.Ordinal) && !line[2..line.IndexOf(" = ", StringComparison.Ordinal)].Contains(' ')))
                uncommented.Add(line[2..]);
            else
                uncommented.Add(line);
        }

        EdgeMailConfig config = ConfigLoader.Parse(string.Join('\n', uncommented), "uncommented.toml", "/x");
        DeviceOptions o = Composition.Device(config, "pi.lan");

        Assert.Equal([LedRole.Status, LedRole.Queue, LedRole.Error, LedRole.Activity], o.Leds.Leds.Select(l => l.Role));
        Assert.Contains(o.Sensors, s => s is { Name: "freezer", Kind: SensorKind.W1, Device: "28-0316a2795aff" });
        Assert.Contains(o.Sensors, s => s is { Name: "door", Kind: SensorKind.Gpio, Line: 5, Pull: "up" });
        var rules = o.Alerts!.Rules.ToDictionary(r => r.Name);
        Assert.Equal((80.0, 5.0, TimeSpan.FromMinutes(1)), (rules["cpu-too-hot"].Above!.Value, rules["cpu-too-hot"].Hysteresis, rules["cpu-too-hot"].For));
        Assert.Equal((-15.0, TimeSpan.FromMinutes(10)), (rules["freezer-warm"].Above!.Value, rules["freezer-warm"].For));
        Assert.Equal((0.5, TimeSpan.FromMinutes(5)), (rules["door-open"].Above!.Value, rules["door-open"].For));
        Assert.Empty(DeviceHost.Validate(o));
    }
}
