using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>
/// Issue 4: a flood of 1000 idle connections neither grows memory past the fixed per-session buffers nor locks out a
/// legitimate client beyond what the limits say. The attacker is 127.0.0.2, the legitimate client 127.0.0.3 (both
/// loopback; Linux routes all of 127/8 to lo).
/// </summary>
public sealed class IdleFloodTests : IAsyncDisposable
{
    private const int PerAddress = 5;
    private readonly SmtpScript _smtp;
    private readonly SmtpListener _listener;
    private readonly IPEndPoint _endpoint;

    public IdleFloodTests()
    {
        _smtp = new SmtpScript(o =>
        {
            o.MaxConnections = 50;
            o.MaxConnectionsPerClient = 20;
            o.Limits = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = PerAddress });
        });
        _listener = new SmtpListener([new IPEndPoint(IPAddress.Loopback, 0)], _smtp.Options, _smtp.Spool, _smtp.Log);
        _endpoint = _listener.Start()[0];
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
        _smtp.Dispose();
    }

    private async Task<(TcpClient Tcp, string? Greeting)> ConnectAsync(IPAddress from)
    {
        var tcp = new TcpClient(new IPEndPoint(from, 0));
        await tcp.ConnectAsync(_endpoint);
        var reader = new StreamReader(tcp.GetStream(), Encoding.ASCII);
        return (tcp, await reader.ReadLineAsync());
    }

    [Fact]
    public async Task A_thousand_idle_connections_hold_only_the_allowed_sessions_and_a_legitimate_client_still_gets_through()
    {
        var attacker = IPAddress.Parse("127.0.0.2");
        var held = new List<TcpClient>();
        int refused = 0;
        try
        {
            for (int batch = 0; batch < 20; batch++)
            {
                var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => ConnectAsync(attacker)));
                foreach (var (tcp, greeting) in results)
                {
                    if (greeting == "220 mx.test ESMTP EdgeMail")
                    {
                        held.Add(tcp); // an idle session: it says nothing more
                        continue;
                    }
                    Assert.Equal("421 4.7.0 Too many connections from your address, try again later", greeting);
                    refused++;
                    tcp.Dispose();
                }
            }
            Assert.Equal(PerAddress, held.Count);
            Assert.Equal(1000 - PerAddress, refused);
            // Memory: a refused connection never gets a session; each held one owns exactly its fixed buffers.
            Assert.Equal(PerAddress, _listener.ActiveSessions);
            long sessionBuffers = (long)_listener.ActiveSessions * (SmtpSession.InputBufferSize + SmtpSession.OutputBufferSize);
            Assert.Equal(PerAddress * 20L * 1024, sessionBuffers);

            // The limits are per address: the legitimate client is not locked out at all.
            var (legit, hello) = await ConnectAsync(IPAddress.Parse("127.0.0.3"));
            using (legit)
            {
                Assert.Equal("220 mx.test ESMTP EdgeMail", hello);
                var stream = legit.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII);
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HELO legit.test\r\nMAIL FROM:<a@legit.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n"));
                Assert.Equal("250 mx.test", await reader.ReadLineAsync());
                Assert.Equal("250 2.1.0 Sender ok", await reader.ReadLineAsync());
                Assert.Equal("250 2.1.5 Recipient ok", await reader.ReadLineAsync());
                Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await reader.ReadLineAsync());
                await stream.WriteAsync(Encoding.ASCII.GetBytes("Subject: still here\r\n\r\nhi\r\n.\r\nQUIT\r\n"));
                Assert.StartsWith("250 2.0.0 Ok: queued as ", await reader.ReadLineAsync(), StringComparison.Ordinal);
                Assert.Equal("221 2.0.0 Bye", await reader.ReadLineAsync());
            }

            // Once the attacker lets go of one connection, the address may open exactly one more.
            var freed = held[0];
            var freedStream = freed.GetStream();
            await freedStream.WriteAsync(Encoding.ASCII.GetBytes("QUIT\r\n"));
            var freedReader = new StreamReader(freedStream, Encoding.ASCII);
            Assert.Equal("221 2.0.0 Bye", await freedReader.ReadLineAsync());
            // The server gives the place back before it closes, so the close is the event to await.
            Assert.Null(await freedReader.ReadLineAsync());
            held.RemoveAt(0);
            freed.Dispose();
            var (again, greetingAgain) = await ConnectAsync(attacker);
            held.Add(again);
            Assert.Equal("220 mx.test ESMTP EdgeMail", greetingAgain);
        }
        finally
        {
            foreach (var tcp in held)
                tcp.Dispose();
        }
    }
}
