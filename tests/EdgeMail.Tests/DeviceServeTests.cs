using EdgeMail.Cli;
using EdgeMail.Commands;

namespace EdgeMail.Tests;

/// <summary>`serve` in-process with the device sections from a config file and a fake sysfs tree in a temp folder.</summary>
public sealed class DeviceServeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-device-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_rule_whose_threshold_is_already_exceeded_queues_an_alert_mail_in_the_spool()
    {
        string zone = Path.Combine(_dir, "sys", "class", "thermal", "thermal_zone0");
        Directory.CreateDirectory(zone);
        File.WriteAllText(Path.Combine(zone, "temp"), "91000\n");   // 91 °C, in the kernel's millidegrees
        string config = Path.Combine(_dir, "edgemail.toml");
        File.WriteAllText(config, $"""
            [alerts]
            from = "pi@lan.test"
            sysfs_root = "{Path.Combine(_dir, "sys")}"

            [[sensors]]
            name = "cpu"
            type = "thermal"

            [[rules]]
            name = "cpu-too-hot"
            source = "cpu"
            above = 80
            to = ["ops@example.com"]
            """);
        var log = new LogWatch();
        var context = new CliContext { Out = new StringWriter(), Error = log, CurrentDirectory = _dir };
        var stop = new TaskCompletionSource();

        // MX delivery off: the alert must stay in the queue to be looked at, not go out to example.com.
        Task<int> serve = ServeCommand.RunAsync(context,
            new ServeCommand.Request(config, ["127.0.0.1:0"], "spool", null, Verbose: false, MxDelivery: false), stop.Task);
        await log.WaitForAsync("Alert mail queued as", "cpu-too-hot").WaitAsync(TimeSpan.FromSeconds(60));
        stop.SetResult();
        Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromSeconds(60)));

        var listing = new StringWriter();
        Assert.Equal(0, await QueueCommand.RunAsync(new CliContext { Out = listing, Error = new StringWriter(), CurrentDirectory = _dir }, null, "spool", json: false));
        Assert.Contains("  pi@lan.test  ", listing.ToString());
        Assert.Contains("-> ops@example.com", listing.ToString());
    }
}
