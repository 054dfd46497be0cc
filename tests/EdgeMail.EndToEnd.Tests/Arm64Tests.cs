using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>The Raspberry Pi binary, run on this machine under qemu-aarch64 (issue 2).</summary>
public sealed class Arm64Tests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_arm64_binary_under_qemu_accepts_a_message_lists_it_and_stops_on_SIGTERM()
    {
        using var dir = new TempDirectory("arm64");
        var binary = EdgeMailBinary.Arm64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = Messages.Plain("arm64");

        var result = await PythonSmtp.SendAsync(server.Endpoint, "pi@lan.test", ["ops@example.test"], dir.Write("m.eml", message));

        Assert.Equal(250, result.DataCode);
        var entry = await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, Queued.IdIn("250 " + result.DataReply));
        Assert.Equal("pi@lan.test", entry.Sender);
        Assert.Equal(["ops@example.test"], entry.Recipients);
        Queued.HasSizeOf(entry, message.Length);
        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task The_arm64_binary_under_qemu_prints_its_version()
    {
        var run = await EdgeMailCli.RunAsync(EdgeMailBinary.Arm64, "--version");

        Assert.True(run.ExitCode == 0 && run.Stdout.Any(char.IsDigit), run.ToString());
    }

    [Fact]
    public async Task The_arm64_binary_under_qemu_does_STARTTLS_with_its_generated_certificate_through_Debians_arm64_libssl3()
    {
        // The handshake runs inside the arm64 process: SslStream → the system OpenSSL, here Debian's arm64 libssl3.
        using var dir = new TempDirectory("arm64-tls");
        var binary = EdgeMailBinary.Arm64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);

        var run = await Tool.RunAsync("/usr/bin/swaks", ["--server", "127.0.0.1", "--port", server.Port.ToString(),
            "--from", "pi@lan.test", "--to", "ops@example.test", "--tls", "--timeout", "60"]);

        Assert.True(run.ExitCode == 0, run.ToString() + server.Diagnostics());
        Assert.Contains("<-  220 ", run.Stdout);
        Assert.Contains("TLS started", run.Stdout);
        Assert.Contains("queued as", run.Stdout);
        Assert.Equal(0, await server.StopAsync());
    }
}
