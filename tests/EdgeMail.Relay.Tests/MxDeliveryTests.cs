using System.Net.Sockets;
using System.Text;
using EdgeMail.Relay.Tests.Fakes;
using EdgeMail.Spool;

namespace EdgeMail.Relay.Tests;

/// <summary>Direct delivery by MX (RFC 5321 §5.1, RFC 7505) against dnsmasq on a loopback port; the MX port points
/// at an aiosmtpd upstream.</summary>
public sealed class MxDeliveryTests
{
    private static readonly string[] Zone =
    [
        "--mx-host=example.test,mx.example.test,10",
        "--host-record=mx.example.test,127.0.0.1",
        // fallback.test: the preferred MX refuses connections (nothing listens on 127.0.0.2), the next one works.
        "--mx-host=fallback.test,dead.example.test,10",
        "--mx-host=fallback.test,mx.example.test,20",
        "--host-record=dead.example.test,127.0.0.2",
        // amx.test: no MX at all, only an address: the implicit MX.
        "--host-record=amx.test,127.0.0.1",
        // Answer for these zones ourselves (NODATA / NXDOMAIN) rather than REFUSED for want of an upstream.
        "--local=/amx.test/",
        "--local=/nowhere.test/",
        // nullmx.test: RFC 7505 "0 ." — accepts no mail.
        "--mx-host=nullmx.test,.,0",
    ];

    private static byte[] Message(string subject) => Encoding.ASCII.GetBytes(
        $"From: alice@example.test\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@edge.test>\r\n\r\nhello\r\n");

    private static async Task<(HelperProcess Dns, int Port)> StartDnsmasqAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = HelperProcess.FreePort(SocketType.Dgram);
            var p = await HelperProcess.StartAsync("/usr/sbin/dnsmasq",
                ["--no-daemon", $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                 "--conf-file=/dev/null", "--pid-file=", .. Zone], readLine: false);
            if (await p.WaitForStderrAsync("started")) return (p, port);
            p.Dispose();
            // The port was taken between our probe and dnsmasq's bind: pick another.
            if (attempt == 5) throw new InvalidOperationException("dnsmasq did not start: " + p.Stderr);
        }
    }

    private static RelayOptions Direct(int dnsPort, int mxPort) => new()
    {
        DnsServer = $"127.0.0.1:{dnsPort}",
        MxPort = mxPort,
        HeloName = "edge.test",
        Jitter = 0,
    };

    [Fact]
    public async Task Without_upstreams_mail_goes_to_the_domains_MX()
    {
        var (dns, dnsPort) = await StartDnsmasqAsync();
        using var _ = dns;
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Direct(dnsPort, upstream.Port));
        await relay.StartAsync();

        var id = await relay.DeliverAsync("alice@edge.test", ["bob@example.test"], Message("mx"));
        Assert.True(relay.Spool.Get(id) is null, string.Join('\n', relay.Log.Lines));
        Assert.Equal(["alice@edge.test", "bob@example.test"], Assert.Single(upstream.Received()).Envelope);
        Assert.Contains(relay.Log.Lines, l => l.Contains($", route=mx, relay=mx.example.test[127.0.0.1]:{upstream.Port}") && l.Contains("status=sent"));
    }

    [Fact]
    public async Task When_the_preferred_MX_refuses_the_next_preference_is_tried()
    {
        var (dns, dnsPort) = await StartDnsmasqAsync();
        using var _ = dns;
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Direct(dnsPort, upstream.Port));
        await relay.StartAsync();

        var id = await relay.DeliverAsync("alice@edge.test", ["carol@fallback.test"], Message("fallback"));
        Assert.True(relay.Spool.Get(id) is null, string.Join('\n', relay.Log.Lines));
        Assert.Single(upstream.Received());
    }

    [Fact]
    public async Task A_domain_without_MX_is_its_own_mail_exchanger()
    {
        var (dns, dnsPort) = await StartDnsmasqAsync();
        using var _ = dns;
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Direct(dnsPort, upstream.Port));
        await relay.StartAsync();

        var id = await relay.DeliverAsync("alice@edge.test", ["dave@amx.test"], Message("implicit"));
        Assert.True(relay.Spool.Get(id) is null, string.Join('\n', relay.Log.Lines));
        Assert.Contains(relay.Log.Lines, l => l.Contains($"relay=amx.test[127.0.0.1]:{upstream.Port}"));
    }

    [Fact]
    public async Task A_domain_that_does_not_exist_bounces_with_5_1_2()
    {
        var (dns, dnsPort) = await StartDnsmasqAsync();
        using var _ = dns;
        await using var relay = new SpoolRelay(Direct(dnsPort, 25));
        await relay.StartAsync();

        var id = await relay.DeliverAsync("", ["frank@nowhere.test"], Message("nxdomain"));
        Assert.Null(relay.Spool.Get(id));
        Assert.Contains(relay.Log.Lines, l => l.StartsWith(id) && l.Contains("dsn=5.1.2") && l.Contains("status=bounced"));
    }

    [Fact]
    public async Task A_null_MX_bounces_at_once_without_retrying()
    {
        var (dns, dnsPort) = await StartDnsmasqAsync();
        using var _ = dns;
        using var upstream = await AioUpstream.StartAsync("plain");
        await using var relay = new SpoolRelay(Direct(dnsPort, upstream.Port));
        await relay.StartAsync();

        var id = await relay.DeliverAsync("alice@example.test", ["erin@nullmx.test"], Message("nullmx"));
        Assert.Null(relay.Spool.Get(id));
        Assert.Contains(relay.Log.Lines, l => l.StartsWith(id) && l.Contains("dsn=5.1.10") && l.Contains("status=bounced"));

        // The DSN goes to the sender's own domain by MX, i.e. to our upstream.
        await relay.RoundDone(relay.BounceOf(id));
        var (envelope, data) = Assert.Single(upstream.Received());
        Assert.Equal(["<>", "alice@example.test"], envelope);
        var status = Dsn.StatusOf(data);
        Assert.Equal("5.1.10", status.StatusGroups[1]["Status"]);
    }
}
