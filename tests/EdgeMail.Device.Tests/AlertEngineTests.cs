using System.Device.Gpio;
using System.Text;
using EdgeMail.Device.Alerts;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Local;
using EdgeMail.Device.Sensors;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Tests;

internal sealed class RecordingSink : IAlertSink
{
    public List<(Envelope Envelope, MimeMessage Message)> Sent { get; } = [];
    public bool Fail { get; set; }
    public TaskCompletionSource FirstMail { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<string> SubmitAsync(Envelope envelope, MimeMessage message, CancellationToken cancellationToken)
    {
        if (Fail)
            throw new SpoolException(SpoolError.InsufficientStorage, "spool full");
        lock (Sent) Sent.Add((envelope, message));
        FirstMail.TrySetResult();
        return Task.FromResult($"Q{Sent.Count}");
    }

    public string[] Subjects => Sent.Select(s => s.Message.Subject ?? "").ToArray();
}

public sealed class AlertEngineTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgemail-alerts-").FullName;
    private readonly FakeClock _clock = new();
    private readonly RecordingSink _sink = new();
    private readonly ListLogger _log = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        _owned.ForEach(d => d.Dispose());
        Directory.Delete(_root, recursive: true);
    }

    private void CpuIs(double celsius) => Put("class/thermal/thermal_zone0/temp", ((long)(celsius * 1000)).ToString() + "\n");

    private void Put(string relative, string content)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static readonly SensorConfig Cpu = new() { Name = "cpu", Kind = SensorKind.Thermal };

    private static AlertRule CpuTooHot(TimeSpan? forTime = null, TimeSpan? cooldown = null) => new()
    {
        Name = "cpu-too-hot", Source = "cpu", Above = 80, Hysteresis = 5, For = forTime ?? TimeSpan.FromMinutes(1),
        To = ["ops@example.com"], Cooldown = cooldown ?? TimeSpan.FromMinutes(15),
    };

    private AlertEngine Engine(AlertOptions options, SensorSetOptions? sensorOptions = null, DeviceState? state = null,
        params SensorConfig[] sensors)
    {
        var set = SensorSet.Create(sensors.Length == 0 ? [Cpu] : sensors, sensorOptions ?? new SensorSetOptions { SysfsRoot = _root }, _clock, _log);
        _owned.Add(set);
        return new AlertEngine(options, set, _sink, _clock, _log, state);
    }

    private static AlertOptions Options(params AlertRule[] rules) => new()
    {
        From = "edgemail@pi.example.com", HostName = "edgepi", Rules = rules,
    };

    private async Task At(TimeSpan after, AlertEngine engine)
    {
        _clock.Advance(after);
        await engine.EvaluateAsync();
    }

    private static readonly TimeSpan S30 = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_rule_fires_only_after_its_condition_held_for_the_configured_time()
    {
        var engine = Engine(Options(CpuTooHot()));
        CpuIs(85);
        await engine.EvaluateAsync();
        await At(S30, engine);
        Assert.Empty(_sink.Sent);
        await At(S30, engine);
        Assert.Equal(["[edgepi] ALERT: cpu-too-hot - cpu 85°C (above 80°C)"], _sink.Subjects);
        Assert.Equal(["cpu-too-hot"], engine.ActiveAlerts);
    }

    [Fact]
    public async Task A_condition_that_does_not_hold_for_the_whole_time_does_not_fire()
    {
        var engine = Engine(Options(CpuTooHot()));
        CpuIs(85);
        await engine.EvaluateAsync();
        CpuIs(79);
        await At(S30, engine);
        CpuIs(85);
        await At(S30, engine);
        await At(S30, engine);
        Assert.Empty(_sink.Sent);
        await At(S30, engine);
        Assert.Single(_sink.Sent);
    }

    [Fact]
    public async Task A_resolved_mail_goes_out_only_once_the_reading_is_back_past_the_hysteresis()
    {
        var engine = Engine(Options(CpuTooHot(TimeSpan.Zero, TimeSpan.Zero)));
        CpuIs(85);
        await engine.EvaluateAsync();
        CpuIs(78);                      // below 80 but not below 80 − 5
        await At(S30, engine);
        CpuIs(81);
        await At(S30, engine);
        CpuIs(75);
        await At(S30, engine);
        Assert.Equal(["[edgepi] ALERT: cpu-too-hot - cpu 85°C (above 80°C)",
                      "[edgepi] RESOLVED: cpu-too-hot - cpu 75°C (above 80°C)"], _sink.Subjects);
        Assert.Empty(engine.ActiveAlerts);
    }

    [Fact]
    public async Task Cooldown_allows_one_mail_per_period_and_the_last_mail_matches_the_final_state()
    {
        var engine = Engine(Options(CpuTooHot(TimeSpan.Zero, TimeSpan.FromMinutes(10))));
        CpuIs(90);
        await engine.EvaluateAsync();                       // ALERT at 0
        CpuIs(70);
        await At(TimeSpan.FromMinutes(1), engine);          // resolved inside the cooldown: held
        CpuIs(90);
        await At(TimeSpan.FromMinutes(1), engine);          // firing again: matches the last mail
        CpuIs(70);
        await At(TimeSpan.FromMinutes(1), engine);          // resolved again: still held
        Assert.Single(_sink.Sent);
        await At(TimeSpan.FromMinutes(7), engine);          // cooldown over: RESOLVED goes out
        Assert.Equal(2, _sink.Sent.Count);
        Assert.StartsWith("[edgepi] RESOLVED", _sink.Subjects[1]);
        await At(TimeSpan.FromMinutes(30), engine);
        Assert.Equal(2, _sink.Sent.Count);
    }

    [Fact]
    public async Task Without_resolved_mail_only_alerts_are_sent()
    {
        var rule = new AlertRule { Name = "r", Source = "cpu", Above = 80, To = ["a@example.com"], Cooldown = TimeSpan.Zero, Resolved = false };
        var engine = Engine(Options(rule));
        CpuIs(90);
        await engine.EvaluateAsync();
        CpuIs(20);
        await At(S30, engine);
        CpuIs(90);
        await At(S30, engine);
        Assert.Equal(2, _sink.Subjects.Count(s => s.Contains("ALERT")));
        Assert.Equal(2, _sink.Sent.Count);
    }

    [Fact]
    public async Task Worked_example_freezer_above_minus_15_on_a_ds18b20_gets_an_encoded_subject()
    {
        Put("bus/w1/devices/28-0316a2795aff/temperature", "-12500\n");
        var rule = new AlertRule
        {
            Name = "freezer", Source = "freezer", Above = -15, Hysteresis = 2, For = TimeSpan.FromMinutes(10),
            To = ["kitchen@example.com"], Subject = "Gefrierschrank zu warm: {value} °C (Grenze {threshold} °C)",
        };
        var engine = Engine(Options(rule), sensors: new SensorConfig { Name = "freezer", Kind = SensorKind.W1, Device = "28-0316a2795aff" });
        await engine.EvaluateAsync();
        await At(TimeSpan.FromMinutes(10), engine);
        var (envelope, message) = Assert.Single(_sink.Sent);
        Assert.Equal("Gefrierschrank zu warm: -12.5 °C (Grenze -15 °C)", message.Subject);
        var wire = Encoding.ASCII.GetString(LocalSubmission.ToBytes(message));
        var unfolded = wire.Replace("\r\n ", " ").Replace("\r\n\t", " ");      // RFC 5322 §2.2.3
        Assert.Matches(@"(?mi)^Subject: Gefrierschrank zu warm: -12.5 =\?utf-8\?[bq]\?", unfolded); // RFC 2047 encoded-word       // RFC 2047 encoded-word
        Assert.DoesNotContain(wire, c => c > 127);
        Assert.Equal(["kitchen@example.com"], envelope.Recipients);
    }

    [Fact]
    public async Task Worked_example_door_open_for_more_than_5_minutes_on_a_gpio_input()
    {
        var driver = new RecordingGpioDriver(_clock);
        // Door shut: the contact pulls the line low. Open: released, the pull-up makes it high.
        var rule = new AlertRule { Name = "door", Source = "door", Above = 0.5, For = TimeSpan.FromMinutes(5), To = ["ops@example.com"] };
        var engine = Engine(Options(rule), new SensorSetOptions { SysfsRoot = _root, Gpio = _ => new GpioController(driver) },
            sensors: new SensorConfig { Name = "door", Kind = SensorKind.Gpio, Line = 5, ActiveLow = false, Debounce = TimeSpan.FromMilliseconds(50) });
        await engine.EvaluateAsync();
        driver.SetInput(5, true);                 // opened at 12:00
        await At(TimeSpan.FromMinutes(1), engine);
        await At(TimeSpan.FromMinutes(4), engine);  // open for 5 minutes, seen open for 4
        Assert.Empty(_sink.Sent);
        await At(TimeSpan.FromMinutes(1), engine);
        Assert.StartsWith("[edgepi] ALERT: door", Assert.Single(_sink.Subjects));
    }

    [Fact]
    public async Task Each_alert_is_a_complete_rfc5322_message_with_reading_threshold_host_and_time()
    {
        var engine = Engine(Options(CpuTooHot(TimeSpan.Zero)));
        CpuIs(85.25);
        await engine.EvaluateAsync();
        var (envelope, message) = Assert.Single(_sink.Sent);
        Assert.Equal(_clock.GetUtcNow(), message.Date);
        Assert.EndsWith("@edgepi", message.MessageId);
        Assert.Equal("edgemail@pi.example.com", message.From.Mailboxes.Single().Address);
        Assert.Equal("ops@example.com", message.To.Mailboxes.Single().Address);
        Assert.Equal("auto-generated", message.Headers["Auto-Submitted"]);
        var body = message.TextBody;
        Assert.Contains("Reading:   85.25°C", body);
        Assert.Contains("above 80°C", body);
        Assert.Contains("edgepi", body);
        Assert.Contains("2026-01-15 12:00:00 UTC", body);
        Assert.Equal("edgemail@pi.example.com", envelope.Sender);
        Assert.Equal("LOCAL", envelope.Protocol);
        Assert.Equal("local", envelope.ClientAddress);
    }

    [Fact]
    public async Task A_lost_sensor_sends_one_lost_mail_lights_the_error_led_and_one_back_mail()
    {
        var state = new DeviceState();
        var engine = Engine(Options(CpuTooHot()) is var o ? new AlertOptions { From = o.From, HostName = o.HostName, Rules = o.Rules, LostCooldown = TimeSpan.Zero } : o, state: state);
        CpuIs(40);
        await engine.EvaluateAsync();
        File.Delete(Path.Combine(_root, "class/thermal/thermal_zone0/temp"));
        await At(S30, engine);
        await At(S30, engine);
        Assert.Equal(["[edgepi] SENSOR LOST: cpu"], _sink.Subjects);
        Assert.Equal(1, state.SensorsLost);
        Assert.Equal(["sensor lost: cpu"], engine.ActiveAlerts);
        CpuIs(41);
        await At(S30, engine);
        Assert.Equal(["[edgepi] SENSOR LOST: cpu", "[edgepi] SENSOR BACK: cpu"], _sink.Subjects);
        Assert.Equal(0, state.SensorsLost);
        Assert.Equal("ops@example.com", _sink.Sent[0].Message.To.Mailboxes.Single().Address);
    }

    [Fact]
    public async Task An_alert_the_spool_cannot_take_is_tried_again_next_round()
    {
        var engine = Engine(Options(CpuTooHot(TimeSpan.Zero)));
        CpuIs(85);
        _sink.Fail = true;
        await engine.EvaluateAsync();
        Assert.Contains(_log.Lines, l => l.Text.Contains("Alert mail not queued"));
        _sink.Fail = false;
        await At(S30, engine);
        Assert.Single(_sink.Sent);
    }

    [Fact]
    public async Task The_daily_digest_goes_out_once_a_day_with_readings_and_their_range()
    {
        var options = new AlertOptions
        {
            From = "edgemail@pi.example.com", HostName = "edgepi",
            Digest = new DigestOptions { At = new TimeOnly(13, 0), To = ["ops@example.com"] },
        };
        var engine = Engine(options);
        CpuIs(40);
        await engine.EvaluateAsync();                     // 12:00
        CpuIs(55);
        await At(TimeSpan.FromMinutes(30), engine);
        Assert.Empty(_sink.Sent);
        await At(TimeSpan.FromMinutes(30), engine);       // 13:00
        await At(TimeSpan.FromMinutes(30), engine);
        var digest = Assert.Single(_sink.Sent).Message;
        Assert.Equal("[edgepi] daily report", digest.Subject);
        Assert.Contains("cpu: 55°C  [min 40°C, max 55°C]", digest.TextBody);
        await At(TimeSpan.FromHours(24), engine);
        Assert.Equal(2, _sink.Sent.Count);
    }

    [Fact]
    public void Rules_that_cannot_work_are_configuration_errors()
    {
        var errors = AlertEngine.Validate(new AlertOptions
        {
            From = "not an address",
            Rules =
            [
                new AlertRule { Name = "both", Source = "cpu", Above = 1, Below = 0, To = ["a@example.com"] },
                new AlertRule { Name = "nobody", Source = "cpu", Above = 1, To = [] },
                new AlertRule { Name = "ghost", Source = "nope", Above = 1, To = ["a@example.com"] },
            ],
        }, ["cpu"]);
        Assert.Equal(4, errors.Count);
    }
}
