using System.Net;
using System.Net.Sockets;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>The listener on a real loopback socket bound to port 0: connection limits in total and per client
/// address (421 4.7.0 and close), a whole message over TCP, and shutdown (421 4.3.2).</summary>
public sealed class SmtpListenerTests : IAsyncDisposable
{
    private readonly LoopbackServer _server = new(o =>
    {
        o.MaxConnections = 3;
        o.MaxConnectionsPerClient = 2;
    });

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Start_binds_port_zero_and_reports_the_real_port()
    {
        Assert.Equal(IPAddress.Loopback, _server.Endpoint.Address);
        Assert.NotEqual(0, _server.Endpoint.Port);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_message_sent_over_tcp_is_queued()
    {
        using var c = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        await c.SendAsync("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
        string? line;
        do
            line = await c.ReadLineAsync();
        while (line is not null && !line.StartsWith("354 ", StringComparison.Ordinal));
        await c.SendAsync("Subject: over tcp\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        var queued = await c.ReadLineAsync();
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued);
        Assert.Equal("221 2.0.0 Bye", await c.ReadLineAsync());
        Assert.Null(await c.ReadLineAsync());
        var entry = Assert.Single(_server.Smtp.Spool.List());
        Assert.Equal("127.0.0.1", entry.Envelope.ClientAddress);
        Assert.EndsWith(entry.Id, queued);
    }

    [Fact]
    public async Task Connections_over_the_per_client_limit_get_421_4_7_0_and_are_closed()
    {
        using var first = await _server.ConnectAsync();
        using var second = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await first.ReadLineAsync());
        Assert.Equal("220 mx.test ESMTP EdgeMail", await second.ReadLineAsync());
        using var third = await _server.ConnectAsync();
        Assert.Equal("421 4.7.0 Too many connections, try again later", await third.ReadLineAsync());
        Assert.Null(await third.ReadLineAsync());
        Assert.Contains(_server.Smtp.Log.Lines, l => l.StartsWith("refused connection from 127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("connection limit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connections_over_the_total_limit_get_421_4_7_0_whatever_their_address()
    {
        // 127.0.0.0/8 is all loopback on Linux: three client addresses, two connections each would be allowed,
        // but the total is three.
        using var a = await _server.ConnectAsync(IPAddress.Parse("127.0.0.2"));
        using var b = await _server.ConnectAsync(IPAddress.Parse("127.0.0.3"));
        using var c = await _server.ConnectAsync(IPAddress.Parse("127.0.0.4"));
        Assert.Equal("220 mx.test ESMTP EdgeMail", await a.ReadLineAsync());
        Assert.Equal("220 mx.test ESMTP EdgeMail", await b.ReadLineAsync());
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        using var d = await _server.ConnectAsync(IPAddress.Parse("127.0.0.5"));
        Assert.Equal("421 4.7.0 Too many connections, try again later", await d.ReadLineAsync());
        Assert.Null(await d.ReadLineAsync());
    }

    [Fact]
    public async Task A_closed_session_frees_its_place_before_the_client_sees_the_close()
    {
        using var second = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await second.ReadLineAsync());
        using (var first = await _server.ConnectAsync())
        {
            Assert.Equal("220 mx.test ESMTP EdgeMail", await first.ReadLineAsync());
            await first.SendAsync("QUIT\r\n");
            Assert.Equal("221 2.0.0 Bye", await first.ReadLineAsync());
            Assert.Null(await first.ReadLineAsync());
        }
        using var third = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await third.ReadLineAsync());
    }

    [Fact]
    public async Task An_idle_tcp_client_gets_421_4_4_2_and_is_closed()
    {
        _server.Smtp.Options.CommandTimeout = TimeSpan.FromMilliseconds(100);
        using var c = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        Assert.Equal("421 4.4.2 Timeout exceeded, closing connection", await c.ReadLineAsync());
        Assert.Null(await c.ReadLineAsync());
    }

    [Fact]
    public async Task Stop_answers_421_4_3_2_to_connected_clients_and_waits_for_them()
    {
        using var c = await _server.ConnectAsync();
        Assert.Equal("220 mx.test ESMTP EdgeMail", await c.ReadLineAsync());
        await c.SendAsync("HELO client.test\r\n");
        Assert.Equal("250 mx.test", await c.ReadLineAsync());
        await _server.Listener.StopAsync(CancellationToken.None);
        Assert.Equal("421 4.3.2 Service shutting down, closing connection", await c.ReadLineAsync());
        Assert.Null(await c.ReadLineAsync());
        Assert.Equal(0, _server.Listener.ActiveSessions);
        await Assert.ThrowsAnyAsync<SocketException>(async () => { using var late = await _server.ConnectAsync(); });
    }
}
