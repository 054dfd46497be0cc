using System.Net.Sockets;
using System.Text;

namespace EdgeMail.Device.Tests;

public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-notify-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Socket Listen(string name)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(name));
        return s;
    }

    private static async Task<string> ReceiveAsync(Socket s)
    {
        var buffer = new byte[256];
        var n = await s.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [Fact]
    public async Task Ready_stopping_and_watchdog_are_single_datagrams_to_the_notify_socket()
    {
        var path = Path.Combine(_dir, "notify");
        using var listener = Listen(path);
        Assert.True(SystemdNotify.Send(path, "READY=1"));
        Assert.Equal("READY=1", await ReceiveAsync(listener));
        Assert.True(SystemdNotify.Send(path, "WATCHDOG=1"));
        Assert.Equal("WATCHDOG=1", await ReceiveAsync(listener));
        Assert.True(SystemdNotify.Send(path, "STOPPING=1"));
        Assert.Equal("STOPPING=1", await ReceiveAsync(listener));
    }

    [Fact]
    public async Task A_name_starting_with_at_is_an_abstract_socket()
    {
        var name = "edgemail-test-" + Guid.NewGuid().ToString("N");
        using var listener = Listen("\0" + name);
        Assert.True(SystemdNotify.Send("@" + name, "READY=1"));
        Assert.Equal("READY=1", await ReceiveAsync(listener));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relative/path")]
    public void Without_a_usable_notify_socket_nothing_is_sent_and_nothing_fails(string? name)
        => Assert.False(SystemdNotify.Send(name, "READY=1"));

    [Fact]
    public void A_vanished_socket_is_not_an_error()
        => Assert.False(SystemdNotify.Send(Path.Combine(_dir, "gone"), "READY=1"));

    [Theory]
    [InlineData("30000000", null, 15.0)]
    [InlineData("30000000", "4242", 15.0)]
    public void Watchdog_pings_at_half_of_WATCHDOG_USEC(string usec, string? pid, double seconds)
        => Assert.Equal(TimeSpan.FromSeconds(seconds), SystemdNotify.ParseWatchdog(usec, pid, 4242));

    [Theory]
    [InlineData(null, null)]
    [InlineData("0", null)]
    [InlineData("junk", null)]
    [InlineData("30000000", "1")]   // meant for another process
    public void Watchdog_is_off_unless_enabled_for_this_process(string? usec, string? pid)
        => Assert.Null(SystemdNotify.ParseWatchdog(usec, pid, 4242));
}
