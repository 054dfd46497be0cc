using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

public sealed class CurlClientTests(ITestOutputHelper output)
{
    const string Curl = "/usr/bin/curl";

    [Fact]
    public async Task A_curl_smtp_upload_is_acknowledged_and_queued()
    {
        using var dir = new TempDirectory("curl");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = Messages.Plain("curl upload");
        var file = dir.Write("m.eml", message);
        Assert.True(File.Exists(Curl), $"{Curl} is missing: run ./build.sh test");

        // -v prints the server's replies ("< 250 ...") on stderr; -sS keeps errors visible.
        var run = await Tool.RunAsync(Curl,
            ["-sS", "-v", "--max-time", "30", "--url", $"smtp://127.0.0.1:{server.Port}", "--mail-from", "curl@lan.test",
             "--mail-rcpt", "ops@example.test", "-T", file]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var entry = await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, Queued.IdIn(run.Stderr));
        Assert.Equal("curl@lan.test", entry.Sender);
        Assert.Equal(["ops@example.test"], entry.Recipients);
        Queued.HasSizeOf(entry, message.Length);
    }
}
