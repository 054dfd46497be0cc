using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// Issue 3: with no upstream and no route, `serve` delivers straight to each domain's MX (RFC 5321 §5.1) —
/// by default, with no flag and no config; `--mx-delivery false` holds the mail in the queue instead.
/// dnsmasq on a loopback port answers the MX query; `--mx-port` points the MX at an aiosmtpd sink.
/// </summary>
public sealed class MxDeliveryDefaultTests(ITestOutputHelper output)
{
    const string Dnsmasq = "/usr/sbin/dnsmasq";
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>dnsmasq serving "example.test MX 10 mx.example.test", mx.example.test = 127.0.0.1, on a free UDP port.</summary>
    sealed class Zone : IDisposable
    {
        readonly Process _process;
        readonly StringBuilder _stderr = new();
        readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Port { get; }

        Zone(int port)
        {
            Port = port;
            var info = new ProcessStartInfo(Dnsmasq) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { "--no-daemon", $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                                         "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--mx-host=example.test,mx.example.test,10",
                                         "--host-record=mx.example.test,127.0.0.1" })
                info.ArgumentList.Add(a);
            _process = new Process { StartInfo = info, EnableRaisingEvents = true };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_stderr) _stderr.AppendLine(e.Data);
                if (e.Data.Contains("started", StringComparison.Ordinal)) _started.TrySetResult();
            };
            _process.Exited += (_, _) => _started.TrySetException(new InvalidOperationException("dnsmasq exited"));
            _process.Start();
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
        }

        public static async Task<Zone> StartAsync()
        {
            Assert.True(File.Exists(Dnsmasq), $"{Dnsmasq} is missing: apt-get install dnsmasq");
            for (int attempt = 0; ; attempt++)
            {
                var zone = new Zone(FreeUdpPort());
                try
                {
                    await zone._started.Task.WaitAsync(Limit);
                    return zone;
                }
                catch (InvalidOperationException) when (attempt < 5)
                {
                    // The port was taken between our probe and dnsmasq's bind: pick another.
                    zone.Dispose();
                }
            }
        }

        static int FreeUdpPort()
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    /// <summary>`serve` asking the zone for MX records and delivering to the sink's port on whatever host they name.</summary>
    Task<EdgeMailServer> ServeAsync(TempDirectory dir, Zone zone, RecordingSink sink, params string[] more) =>
        EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output,
            extraArguments: ["--dns", $"127.0.0.1:{zone.Port}", "--mx-port", sink.Port.ToString(), .. more], holdWithoutUpstream: false);

    static async Task<string> SendAsync(TempDirectory dir, EdgeMailServer server, string subject)
    {
        var run = await Swaks.RunAsync(server, "--from", "sensor@lan.test", "--to", "ops@example.test",
            "--data", "@" + dir.Write(subject + ".eml", Messages.Plain(subject)));
        Assert.True(run.ExitCode == 0, run.ToString());
        return Queued.IdIn(run.Stdout);
    }

    [Fact]
    public async Task With_no_upstream_no_route_and_no_mx_delivery_setting_mail_goes_to_the_domains_MX_and_leaves_the_queue()
    {
        using var dir = new TempDirectory("mx-default");
        using var zone = await Zone.StartAsync();
        await using var sink = await RecordingSink.StartAsync();
        await using var server = await ServeAsync(dir, zone, sink);

        string id = await SendAsync(dir, server, "by MX by default");

        Assert.True(await sink.WaitForAsync(["by MX by default"], Limit), $"the MX never got the message\n{server.Diagnostics()}\n{sink.Log}");
        await server.WaitForLogAsync(1, id + ": removed");
        Assert.Contains(server.Log.Split('\n'), l => l.Contains("relay=mx.example.test[127.0.0.1]") && l.Contains("status=sent"));
        Assert.Empty(await EdgeMailCli.QueueAsync(EdgeMailBinary.X64, dir.File("spool")));
    }

    [Fact]
    public async Task Mx_delivery_false_holds_the_mail_in_the_queue_until_an_upstream_is_configured()
    {
        using var dir = new TempDirectory("mx-held");
        using var zone = await Zone.StartAsync();
        await using var sink = await RecordingSink.StartAsync();
        await using var server = await ServeAsync(dir, zone, sink, "--mx-delivery", "false");

        // The relay is not started at all: the daemon says so at start-up.
        await server.WaitForLogAsync(1, "mail is accepted and stays queued");
        string id = await SendAsync(dir, server, "held");

        Assert.Equal(0, await server.StopAsync());
        Assert.Equal([id], (await EdgeMailCli.QueueAsync(EdgeMailBinary.X64, dir.File("spool"))).Select(m => m.Id));
        Assert.Empty(sink.Delivered);
    }
}
