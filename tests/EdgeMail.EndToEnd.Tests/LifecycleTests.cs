using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

public sealed class LifecycleTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(EdgeMailServer.SIGTERM)]
    [InlineData(EdgeMailServer.SIGINT)]
    public async Task Serve_stops_on_SIGTERM_or_SIGINT_with_exit_code_0_and_leaves_the_queue_readable(int signal)
    {
        using var dir = new TempDirectory("lifecycle");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = Messages.Plain("lifecycle");
        var sent = await PythonSmtp.SendAsync(server.Endpoint, "a@lan.test", ["b@example.test"], dir.Write("m.eml", message));

        var exitCode = await server.StopAsync(signal);

        Assert.True(exitCode == 0, $"exit code {exitCode} after signal {signal}\n{server.Diagnostics()}");
        await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, Queued.IdIn("250 " + sent.DataReply));
    }
}
