using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>RFC 5321 §4.5.3.2 timeouts end an idle session with 421 4.4.2; shutting down answers 421 4.3.2.
/// Tiny configured timeouts, and the test awaits the 421 itself — no sleeps.</summary>
public sealed class TimeoutAndShutdownTests : IDisposable
{
    private readonly SmtpScript _smtp = new();

    public void Dispose() => _smtp.Dispose();

    private const string Timeout = "421 4.4.2 Timeout exceeded, closing connection";

    [Fact]
    public async Task An_idle_client_gets_421_4_4_2_and_is_disconnected()
    {
        _smtp.Options.CommandTimeout = TimeSpan.FromMilliseconds(50);
        var pipe = new DuplexPipe(Feed.Whole);
        var run = _smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        Assert.Equal("220 mx.test ESMTP EdgeMail", await pipe.ReadLineAsync());
        Assert.Equal(Timeout, await pipe.ReadLineAsync());
        Assert.Null(await pipe.ReadLineAsync());
        await run;
        Assert.Contains(_smtp.Log.Lines, l => l == "disconnect from [192.0.2.10]:40000 (timeout)");
    }

    [Fact]
    public async Task A_client_that_stops_after_a_partial_command_times_out_too()
    {
        _smtp.Options.CommandTimeout = TimeSpan.FromMilliseconds(50);
        var pipe = new DuplexPipe(Feed.Whole);
        var run = _smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        await pipe.SendAsync("HELO client.test\r\nMAIL FROM:<a@exa");
        Assert.Equal("220 mx.test ESMTP EdgeMail", await pipe.ReadLineAsync());
        Assert.Equal("250 mx.test", await pipe.ReadLineAsync());
        Assert.Equal(Timeout, await pipe.ReadLineAsync());
        Assert.Null(await pipe.ReadLineAsync());
        await run;
    }

    [Theory]
    [InlineData("")]                          // nothing after 354: the data-initiation timeout
    [InlineData("Subject: half a message\r\n")] // stalls in the middle: the data-block timeout
    public async Task A_client_that_stalls_in_data_gets_421_and_nothing_is_queued(string sent)
    {
        _smtp.Options.DataInitTimeout = TimeSpan.FromMilliseconds(50);
        _smtp.Options.DataBlockTimeout = TimeSpan.FromMilliseconds(50);
        var pipe = new DuplexPipe(Feed.Whole);
        var run = _smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        await pipe.SendAsync("HELO c.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n" + sent);
        string? line;
        do
            line = await pipe.ReadLineAsync();
        while (line is not null && !line.StartsWith("354 ", StringComparison.Ordinal));
        Assert.Equal(Timeout, await pipe.ReadLineAsync());
        Assert.Null(await pipe.ReadLineAsync());
        await run;
        Assert.Empty(_smtp.Spool.List());
        Assert.Empty(Directory.GetFiles(Path.Combine(_smtp.Folder, "tmp")));
    }

    [Fact]
    public async Task Shutting_down_answers_421_4_3_2_and_closes()
    {
        using var shutdown = new CancellationTokenSource();
        var pipe = new DuplexPipe(Feed.Whole);
        var run = _smtp.NewSession(pipe.Server).RunAsync(shutdown.Token);
        await pipe.SendAsync("HELO client.test\r\n");
        Assert.Equal("220 mx.test ESMTP EdgeMail", await pipe.ReadLineAsync());
        Assert.Equal("250 mx.test", await pipe.ReadLineAsync());
        shutdown.Cancel();
        Assert.Equal("421 4.3.2 Service shutting down, closing connection", await pipe.ReadLineAsync());
        Assert.Null(await pipe.ReadLineAsync());
        await run;
        Assert.Contains(_smtp.Log.Lines, l => l == "disconnect from [192.0.2.10]:40000 (shutting down)");
    }

    [Fact]
    public async Task A_session_started_during_shutdown_gets_421_instead_of_the_greeting()
    {
        await _smtp.RunAsync("""
            C: HELO client.test
            S: 421 4.3.2 Service shutting down, closing connection
            """, Feed.Whole, new CancellationToken(canceled: true));
    }
}
