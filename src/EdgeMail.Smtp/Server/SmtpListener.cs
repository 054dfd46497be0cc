using System.Net;
using System.Net.Sockets;
using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Security;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Smtp.Server;

/// <summary>One address to listen on; <paramref name="ImplicitTls"/> for an RFC 8314 submissions-style port (465):
/// TLS from the first byte, no STARTTLS.</summary>
public readonly record struct ListenerEndpoint(IPEndPoint EndPoint, bool ImplicitTls = false);

/// <summary>
/// Accepts connections on every endpoint and runs one <see cref="SmtpSession"/> per connection, within the limits
/// on connections in total and per client address (over either: 421 4.7.0 and close, before any session exists).
/// </summary>
public sealed class SmtpListener : IAsyncDisposable
{
    private readonly IReadOnlyList<ListenerEndpoint> _endpoints;
    private readonly SmtpServerOptions _options;
    private readonly MessageSpool _spool;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly object _lock = new();
    private readonly Dictionary<IPAddress, int> _perClient = [];
    private readonly Dictionary<long, (Socket Socket, Task Task)> _sessions = [];
    private long _nextSession;
    private int _total;
    private bool _stopped;

    public SmtpListener(IReadOnlyList<IPEndPoint> endpoints, SmtpServerOptions options, MessageSpool spool, ILogger? logger)
        : this(endpoints.Select(e => new ListenerEndpoint(e)).ToArray(), options, spool, logger)
    {
    }

    public SmtpListener(IReadOnlyList<ListenerEndpoint> endpoints, SmtpServerOptions options, MessageSpool spool, ILogger? logger)
    {
        if (!options.OffersTls && endpoints.Any(e => e.ImplicitTls))
            throw new ArgumentException("An implicit-TLS endpoint needs SmtpServerOptions.Certificate or CertificateSource.", nameof(endpoints));
        _endpoints = endpoints;
        _options = options;
        _spool = spool;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Number of sessions running now.</summary>
    public int ActiveSessions
    {
        get
        {
            lock (_lock)
                return _total;
        }
    }

    public IReadOnlyList<IPEndPoint> Start()
    {
        var bound = new List<IPEndPoint>(_endpoints.Count);
        try
        {
            foreach (var (endpoint, _) in _endpoints)
            {
                var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _listeners.Add(socket);
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
                    socket.DualMode = true;
                // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT as well, so a second server could bind
                // the same port and take half the connections, and "address in use" would never be reported.
                // .NET already sets SO_REUSEADDR on Unix, so a restart does not wait out TIME_WAIT.
                socket.Bind(endpoint);
                socket.Listen(512);
                var local = (IPEndPoint)socket.LocalEndPoint!;
                bound.Add(local);
                SmtpLog.Listening(_logger, local.ToString());
            }
        }
        catch
        {
            foreach (var s in _listeners)
                s.Dispose();
            _listeners.Clear();
            throw;
        }
        for (int i = 0; i < _listeners.Count; i++)
        {
            var socket = _listeners[i];
            bool implicitTls = _endpoints[i].ImplicitTls;
            _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(socket, implicitTls)));
        }
        return bound;
    }

    private async Task AcceptLoopAsync(Socket listener, bool implicitTls)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // e.g. ECONNABORTED: the client gave up before we accepted
            }
            Admit(client, implicitTls);
        }
    }

    private void Admit(Socket client, bool implicitTls)
    {
        IPEndPoint remote;
        try
        {
            remote = (IPEndPoint)client.RemoteEndPoint!;
        }
        catch (SocketException)
        {
            client.Dispose();
            return;
        }
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        SmtpReplyKind? refusal = null;
        long id = 0;
        lock (_lock)
        {
            _perClient.TryGetValue(address, out int mine);
            if (_stopped)
                refusal = SmtpReplyKind.ShuttingDown;
            else if (_total >= _options.MaxConnections || mine >= _options.MaxConnectionsPerClient)
                refusal = SmtpReplyKind.TooManyConnections;
            else
            {
                _total++;
                _perClient[address] = mine + 1;
                id = ++_nextSession;
            }
        }
        ConnectionLease? lease = null;
        if (refusal is null && _options.Limits is { } limits && !limits.TryOpenConnection(address, out lease))
        {
            refusal = SmtpReplyKind.TooManyConnectionsFromAddress;
            lock (_lock)
            {
                _total--;
                if (_perClient.TryGetValue(address, out int mine) && mine > 1)
                    _perClient[address] = mine - 1;
                else
                    _perClient.Remove(address);
            }
        }
        if (refusal is SmtpReplyKind kind)
        {
            SmtpLog.Refused(_logger, remote.ToString(), kind == SmtpReplyKind.ShuttingDown ? "shutting down" : "connection limit");
            // On an implicit-TLS port a clear-text 421 would only confuse the client's handshake: just close.
            if (implicitTls)
                client.Dispose();
            else
                _ = RefuseAsync(client, kind);
            return;
        }
        client.NoDelay = true;
        var task = Task.Run(() => RunSessionAsync(client, remote, address, id, lease, implicitTls));
        lock (_lock)
        {
            if (!task.IsCompleted)
                _sessions[id] = (client, task);
        }
    }

    private static async Task RefuseAsync(Socket client, SmtpReplyKind kind)
    {
        var buffer = new byte[256];
        int n = SmtpReplies.Format(kind, default, buffer);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task RunSessionAsync(Socket client, IPEndPoint remote, IPAddress address, long id, ConnectionLease? lease, bool implicitTls)
    {
        int released = 0;
        // The place is given back as the connection closes (before the client can see the close), so a client
        // that reconnects right after our 221 is never refused for a session that is already over.
        void Release()
        {
            if (Interlocked.Exchange(ref released, 1) != 0)
                return;
            lease?.Dispose();
            lock (_lock)
            {
                _total--;
                if (_perClient.TryGetValue(address, out int mine) && mine > 1)
                    _perClient[address] = mine - 1;
                else
                    _perClient.Remove(address);
            }
        }
        try
        {
            var stream = new SessionStream(client, Release);
            var session = new SmtpSession(stream, remote, _options, _spool, _logger, implicitTls);
            await session.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            Release();
            client.Dispose();
            lock (_lock)
                _sessions.Remove(id);
        }
    }

    private sealed class SessionStream(Socket socket, Action onClose) : NetworkStream(socket, ownsSocket: true)
    {
        protected override void Dispose(bool disposing)
        {
            onClose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Stops accepting; running sessions answer 421 4.3.2 at their next read and close. A session in the
    /// middle of a commit finishes it (and answers) first. If <paramref name="ct"/> fires, the remaining
    /// connections are cut.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        lock (_lock)
            _stopped = true;
        _stopping.Cancel();
        foreach (var socket in _listeners)
            socket.Dispose();
        try
        {
            await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Task[] running;
        lock (_lock)
            running = _sessions.Values.Select(s => s.Task).ToArray();
        try
        {
            await Task.WhenAll(running).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_lock)
            {
                foreach (var s in _sessions.Values)
                    s.Socket.Dispose();
            }
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await StopAsync(cut.Token).ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}
