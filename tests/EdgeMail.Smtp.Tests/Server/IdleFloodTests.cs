using System.Net;
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
    private readonly LoopbackServer _server = new(o =>
    {
        o.MaxConnections = 50;
        o.MaxConnectionsPerClient = 20;
        o.Limits = new RateLimiter(new RateLimitOptions { ConnectionsPerAddress = PerAddress });
    });

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<(WireClient Client, string? Greeting)> ConnectAsync(IPAddress from)
    {
        var client = await _server.ConnectAsync(from);
        return (client, await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_thousand_idle_connections_hold_only_the_allowed_sessions_and_a_legitimate_client_still_gets_through()
    {
        var attacker = IPAddress.Parse("127.0.0.2");
        var held = new List<WireClient>();
        int refused = 0;
        try
        {
            for (int batch = 0; batch < 20; batch++)
            {
                var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => ConnectAsync(attacker)));
                foreach (var (client, greeting) in results)
                {
                    if (greeting == "220 mx.test ESMTP EdgeMail")
                    {
                        held.Add(client); // an idle session: it says nothing more
                        continue;
                    }
                    Assert.Equal("421 4.7.0 Too many connections from your address, try again later", greeting);
                    refused++;
                    client.Dispose();
                }
            }
            Assert.Equal(PerAddress, held.Count);
            Assert.Equal(1000 - PerAddress, refused);
            // Memory: a refused connection never gets a session; each held one owns exactly its fixed buffers.
            Assert.Equal(PerAddress, _server.Listener.ActiveSessions);
            long sessionBuffers = (long)_server.Listener.ActiveSessions * (SmtpSession.InputBufferSize + SmtpSession.OutputBufferSize);
            Assert.Equal(PerAddress * 20L * 1024, sessionBuffers);

            // The limits are per address: the legitimate client is not locked out at all.
            var (legit, hello) = await ConnectAsync(IPAddress.Parse("127.0.0.3"));
            using (legit)
            {
                Assert.Equal("220 mx.test ESMTP EdgeMail", hello);
                await legit.SendAsync("HELO legit.test\r\nMAIL FROM:<a@legit.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n");
                Assert.Equal("250 mx.test", await legit.ReadLineAsync());
                Assert.Equal("250 2.1.0 Sender ok", await legit.ReadLineAsync());
                Assert.Equal("250 2.1.5 Recipient ok", await legit.ReadLineAsync());
                Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await legit.ReadLineAsync());
                await legit.SendAsync("Subject: still here\r\n\r\nhi\r\n.\r\nQUIT\r\n");
                Assert.StartsWith("250 2.0.0 Ok: queued as ", await legit.ReadLineAsync(), StringComparison.Ordinal);
                Assert.Equal("221 2.0.0 Bye", await legit.ReadLineAsync());
            }

            // Once the attacker lets go of one connection, the address may open exactly one more.
            var freed = held[0];
            await freed.SendAsync("QUIT\r\n");
            Assert.Equal("221 2.0.0 Bye", await freed.ReadLineAsync());
            // The server gives the place back before it closes, so the close is the event to await.
            Assert.Null(await freed.ReadLineAsync());
            held.RemoveAt(0);
            freed.Dispose();
            var (again, greetingAgain) = await ConnectAsync(attacker);
            held.Add(again);
            Assert.Equal("220 mx.test ESMTP EdgeMail", greetingAgain);
        }
        finally
        {
            foreach (var client in held)
                client.Dispose();
        }
    }
}
