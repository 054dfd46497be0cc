using System.Net.Sockets;
using System.Text;

namespace EdgeMail.Device;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram of "KEY=VALUE" lines to the AF_UNIX socket named
/// in NOTIFY_SOCKET. A name starting with '@' is in the abstract namespace (a leading NUL byte).
/// Every call is a no-op returning false when not started by systemd with Type=notify, so the
/// daemon calls these unconditionally.
/// </summary>
public static class SystemdNotify
{
    public static bool Ready() => Send("READY=1");
    public static bool Stopping() => Send("STOPPING=1");
    public static bool Watchdog() => Send("WATCHDOG=1");
    public static bool Status(string text) => Send("STATUS=" + text.ReplaceLineEndings(" "));

    /// <summary>
    /// How often to send <see cref="Watchdog"/>: half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
    /// recommends, or null when the watchdog is off or meant for another process (WATCHDOG_PID).
    /// </summary>
    public static TimeSpan? WatchdogInterval =>
        ParseWatchdog(Environment.GetEnvironmentVariable("WATCHDOG_USEC"),
                      Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);

    /// <summary>
    /// Pings the watchdog at <see cref="WatchdogInterval"/> while <paramref name="healthy"/> says so, until
    /// cancelled. An unhealthy daemon stops pinging and systemd restarts it (WatchdogSec= in the unit).
    /// Returns at once when the watchdog is off.
    /// </summary>
    public static async Task RunWatchdogAsync(Func<bool> healthy, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        if (WatchdogInterval is not { } interval)
            return;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (healthy())
                    Watchdog();
                await Task.Delay(interval, time ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static bool Send(string state) => Send(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), state);

    internal static bool Send(string? socketName, string state)
    {
        if (string.IsNullOrEmpty(socketName))
            return false;
        // Only absolute paths and abstract names are valid (systemd rejects anything else too).
        if (socketName[0] == '@')
            socketName = "\0" + socketName[1..];
        else if (socketName[0] != '/')
            return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketName));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            // systemd gone or socket not ours: notifications are advisory, never fatal.
            return false;
        }
    }

    internal static TimeSpan? ParseWatchdog(string? usec, string? pid, int ownPid)
    {
        if (!ulong.TryParse(usec, out var micro) || micro == 0)
            return null;
        if (!string.IsNullOrEmpty(pid) && (!int.TryParse(pid, out var p) || p != ownPid))
            return null;
        return TimeSpan.FromMicroseconds(micro / 2.0);
    }
}
