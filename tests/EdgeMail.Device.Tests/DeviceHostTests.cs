using EdgeMail.Device.Alerts;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Sensors;

namespace EdgeMail.Device.Tests;

public sealed class DeviceHostTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgemail-host-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private DeviceOptions Options() => new()
    {
        SysfsRoot = _root,
        Leds = new LedOptions { Leds = [new LedConfig { Role = LedRole.Error, Chip = 97, Line = 22 }] },
        Sensors = [new SensorConfig { Name = "cpu", Kind = SensorKind.Thermal }],
        Alerts = new AlertOptions
        {
            From = "pi@example.com", HostName = "edgepi",
            Rules = [new AlertRule { Name = "hot", Source = "cpu", Above = 80, To = ["ops@example.com"] }],
        },
    };

    [Fact]
    public async Task Without_led_hardware_the_sensors_and_alerts_still_run()
    {
        var dir = Path.Combine(_root, "class/thermal/thermal_zone0");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "temp"), "90000\n");
        var sink = new RecordingSink();
        var log = new ListLogger();
        var host = DeviceHost.Start(Options(), sink, _root, null, new FakeClock(), log);
        await using (host)
        {
            await sink.FirstMail.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var status = host.Status();
            Assert.Empty(status.Leds);
            Assert.Equal(["cpu", "spool"], status.Readings.Select(r => r.Name));
            Assert.Equal(90.0, status.Readings[0].Value);
            Assert.Equal(["hot"], status.ActiveAlerts);
            // The spool's file system fill reaches the error LED's state without a [[sensors]] entry.
            Assert.Equal(status.Readings[1].Value!.Value / 100, host.State.SpoolFillRatio, 6);
        }
        Assert.Single(log.Lines, l => l.Text.StartsWith("Status LEDs are off"));
    }

    [Fact]
    public void Configuration_mistakes_are_reported_before_start()
    {
        var o = Options();
        var bad = new DeviceOptions
        {
            Leds = new LedOptions { Leds = [new LedConfig { Role = LedRole.Error, Line = 1 }, new LedConfig { Role = LedRole.Error, Line = 2 }] },
            Sensors = [.. o.Sensors, .. o.Sensors],
            Alerts = new AlertOptions { From = "pi@example.com", Rules = [new AlertRule { Name = "x", Source = "nope", Above = 1, To = ["a@b.c"] }] },
        };
        Assert.Equal(3, DeviceHost.Validate(bad).Count);
        Assert.Empty(DeviceHost.Validate(o));
    }
}
