using System.Text;
using System.Text.Json;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// `edgemail serve` as the whole daemon: accepted mail is relayed (to an aiosmtpd upstream nobody here wrote) byte
/// for byte and leaves the queue; STARTTLS + AUTH with swaks; `status --json` with and without a daemon, and a route
/// failing then ok; and a second daemon on the same spool is refused.
/// </summary>
public sealed class ServeCompositionTests(ITestOutputHelper output)
{
    static async Task<JsonElement> StatusJsonAsync(EdgeMailBinary binary, string spool, int expectedExit)
    {
        var result = await EdgeMailCli.RunAsync(binary, "status", "--json", "--spool", spool);
        Assert.True(result.ExitCode == expectedExit, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    [Fact]
    public async Task Mail_accepted_by_serve_arrives_at_the_upstream_byte_for_byte_behind_our_Received_line_and_the_queue_empties()
    {
        using var dir = new TempDirectory("serve-relay");
        var binary = EdgeMailBinary.X64;
        using var upstream = await UpstreamPy.StartAsync(dir.File("upstream"));
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output, extraArguments: ["--relay", upstream.Url]);
        byte[] message = Messages.Plain("relayed whole");
        var run = await Swaks.RunAsync(server, "--from", "sensor@lan.test", "--to", "ops@example.test", "--data", "@" + dir.Write("m.eml", message));
        Assert.True(run.ExitCode == 0, run.ToString());
        string id = Queued.IdIn(run.Stdout);

        await server.WaitForLogAsync(1, id + ": removed");

        byte[] received = await File.ReadAllBytesAsync(Path.Combine(dir.File("upstream"), "1.eml"));
        string text = Encoding.ASCII.GetString(received);
        Assert.StartsWith("Received: ", text);
        // The original message follows our trace header unchanged (upstream.py stores the DATA bytes it got,
        // dot-unstuffed, without the final CRLF.CRLF).
        string sent = Encoding.ASCII.GetString(message);
        Assert.EndsWith(sent.TrimEnd('\r', '\n'), text.TrimEnd('\r', '\n'));
        Assert.Empty(await EdgeMailCli.QueueAsync(binary, server.SpoolDirectory));
        JsonElement status = await StatusJsonAsync(binary, server.SpoolDirectory, 0);
        Assert.Equal(0, status.GetProperty("queue").GetProperty("depth").GetInt32());
        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task Status_json_says_running_with_pid_and_uptime_while_serve_runs_and_not_running_with_exit_3_after_it_stopped()
    {
        using var dir = new TempDirectory("serve-status");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);

        JsonElement up = await StatusJsonAsync(binary, server.SpoolDirectory, 0);
        Assert.True(up.GetProperty("daemon").GetBoolean());
        Assert.Equal(server.ProcessId, up.GetProperty("pid").GetInt32());
        Assert.True(up.GetProperty("uptime_seconds").GetInt64() >= 0);
        Assert.Equal(0, up.GetProperty("queue").GetProperty("depth").GetInt32());
        Assert.Equal(JsonValueKind.Array, up.GetProperty("leds").ValueKind);
        Assert.Contains(up.GetProperty("sensors").EnumerateArray(), s => s.GetProperty("name").GetString() == "spool");

        Assert.Equal(0, await server.StopAsync());
        JsonElement down = await StatusJsonAsync(binary, server.SpoolDirectory, 3);
        Assert.False(down.GetProperty("daemon").GetBoolean());
        Assert.Equal(0, down.GetProperty("queue").GetProperty("depth").GetInt32());
    }

    [Fact]
    public async Task Status_json_shows_the_route_and_the_error_light_failing_after_the_upstream_answers_451_ok_once_a_flush_gets_the_message_through_and_the_saved_table_after_the_stop()
    {
        using var dir = new TempDirectory("serve-route-health");
        var binary = EdgeMailBinary.X64;
        using var upstream = await UpstreamPy.StartAsync(dir.File("upstream"), "tempfail");   // 451 for the first DATA, then 250
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output, extraArguments: ["--relay", upstream.Url]);
        JsonElement before = await StatusJsonAsync(binary, server.SpoolDirectory, 0);
        JsonElement fresh = Assert.Single(before.GetProperty("routes").EnumerateArray().ToList());
        Assert.Equal("never tried", fresh.GetProperty("state").GetString());
        Assert.False(before.GetProperty("upstream_failing").GetBoolean());

        var run = await Swaks.RunAsync(server, "--from", "sensor@lan.test", "--to", "ops@example.test");
        Assert.True(run.ExitCode == 0, run.ToString());
        string id = Queued.IdIn(run.Stdout);
        await server.WaitForLogAsync(1, id + ": to=<ops@example.test>", "status=deferred");

        JsonElement during = await StatusJsonAsync(binary, server.SpoolDirectory, 0);
        Assert.True(during.GetProperty("upstream_failing").GetBoolean());   // what the error LED shows
        JsonElement failing = Assert.Single(during.GetProperty("routes").EnumerateArray().ToList());
        Assert.Equal("default", failing.GetProperty("route").GetString());
        Assert.Equal("failing", failing.GetProperty("state").GetString());
        Assert.Equal("deferred", failing.GetProperty("last_result").GetString());
        Assert.StartsWith("451 4.3.0", failing.GetProperty("last_reply").GetString());
        Assert.Equal($"127.0.0.1[127.0.0.1]:{upstream.Port}", failing.GetProperty("host").GetString());
        Assert.Equal(1, failing.GetProperty("consecutive_failures").GetInt32());
        var text = await EdgeMailCli.RunAsync(binary, "status", "--spool", server.SpoolDirectory);
        Assert.Contains($"route default (127.0.0.1:{upstream.Port}): failing since ", text.Stdout);

        var flush = await EdgeMailCli.RunAsync(binary, "queue", "flush", "--spool", server.SpoolDirectory);
        Assert.True(flush.ExitCode == 0, flush.ToString());
        await server.WaitForLogAsync(1, id + ": to=<ops@example.test>", "status=sent");

        JsonElement after = await StatusJsonAsync(binary, server.SpoolDirectory, 0);
        Assert.False(after.GetProperty("upstream_failing").GetBoolean());
        JsonElement ok = Assert.Single(after.GetProperty("routes").EnumerateArray().ToList());
        Assert.Equal("ok", ok.GetProperty("state").GetString());
        Assert.Equal("sent", ok.GetProperty("last_result").GetString());
        Assert.Equal(0, ok.GetProperty("consecutive_failures").GetInt32());
        Assert.StartsWith("250 ", ok.GetProperty("last_reply").GetString());
        Assert.True(ok.TryGetProperty("last_success", out _));
        Assert.False(ok.TryGetProperty("failing_since", out _));
        Assert.Equal(0, await server.StopAsync());

        // Down, `status` shows the table as the daemon saved it at its stop, and says when that was.
        JsonElement down = await StatusJsonAsync(binary, server.SpoolDirectory, 3);
        JsonElement saved = Assert.Single(down.GetProperty("routes").EnumerateArray().ToList());
        Assert.Equal("ok", saved.GetProperty("state").GetString());
        Assert.StartsWith("250 ", saved.GetProperty("last_reply").GetString());
        Assert.True(down.TryGetProperty("routes_as_of", out _));
        Assert.False(down.TryGetProperty("upstream_failing", out _));
        var downText = await EdgeMailCli.RunAsync(binary, "status", "--spool", server.SpoolDirectory);
        Assert.Contains("routes as the daemon last saw them", downText.Stdout);
        Assert.Contains($"route default (127.0.0.1:{upstream.Port}): ok", downText.Stdout);
    }

    [Fact]
    public async Task A_second_serve_on_the_same_spool_is_refused_with_exit_73_and_the_first_keeps_running()
    {
        using var dir = new TempDirectory("serve-twice");
        var binary = EdgeMailBinary.X64;
        await using var first = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);

        var second = await EdgeMailCli.RunAsync(binary, "serve", "--listen", "127.0.0.1:0", "--spool", first.SpoolDirectory);

        Assert.True(second.ExitCode == 73, second.ToString());
        Assert.Contains("another edgemail serve already runs on the spool folder", second.Stderr);
        Assert.DoesNotContain("listening on", second.Stdout);
        Assert.False(first.HasExited);
        Assert.True((await StatusJsonAsync(binary, first.SpoolDirectory, 0)).GetProperty("daemon").GetBoolean());
    }

    [Fact]
    public async Task Swaks_STARTTLS_then_AUTH_PLAIN_with_a_user_made_by_edgemail_user_add_is_accepted()
    {
        using var dir = new TempDirectory("serve-auth");
        var binary = EdgeMailBinary.X64;
        string users = dir.File("users");
        var add = await Tool.RunAsync(binary.StartInfo(["user", "add", "u", "--users", users], dir.Path), stdin: "p\n");
        Assert.True(add.ExitCode == 0, add.ToString());
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output, extraArguments: ["--users", users]);

        var run = await Swaks.RunAsync(server, "--from", "u@lan.test", "--to", "ops@example.test",
            "--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("<-  220 ", run.Stdout);
        Assert.Contains("235 ", run.Stdout);
        Assert.Contains("queued as", run.Stdout);
    }

    [Fact]
    public async Task OpenSSL_is_loaded_only_when_a_client_asks_for_TLS_and_then_the_generated_certificate_is_made()
    {
        using var dir = new TempDirectory("serve-lazy-tls");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        string certificate = Path.Combine(server.SpoolDirectory, "tls", "selfsigned.pem");
        bool OpenSslMapped() => File.ReadAllText($"/proc/{server.ProcessId}/maps").Contains("libcrypto", StringComparison.Ordinal);

        var plain = await Swaks.RunAsync(server, "--from", "cam@lan.test", "--to", "ops@example.test");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("STARTTLS", plain.Stdout);   // offered all along
        Assert.False(OpenSslMapped());
        Assert.False(File.Exists(certificate));

        var tls = await Swaks.RunAsync(server, "--from", "cam@lan.test", "--to", "ops@example.test", "--tls");
        Assert.True(tls.ExitCode == 0, tls.ToString());
        Assert.Contains("queued as", tls.Stdout);
        Assert.True(OpenSslMapped());
        Assert.True(File.Exists(certificate));
        Assert.Contains("generated a self-signed TLS certificate", server.Log);
    }
}
