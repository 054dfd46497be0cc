using System.Net;
using System.Net.Sockets;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>
/// A relay upstream that answers every connection with 421 (RFC 5321 §3.8: service not available, try
/// later): the daemon's delivery attempts fail temporarily, so messages stay queued for queue commands.
/// 127.0.0.1, port 0.
/// </summary>
public sealed class DeferringUpstream : IAsyncDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly Task _loop;

    public DeferringUpstream()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public string Url => $"smtp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                await client.GetStream().WriteAsync("421 4.3.2 test upstream: try again later\r\n"u8.ToArray(), _stop.Token);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
