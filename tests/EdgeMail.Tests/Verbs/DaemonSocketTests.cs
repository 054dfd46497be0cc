using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeMail.Cli;
using EdgeMail.Commands;
using EdgeMail.Hosting;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Tests.Verbs;

/// <summary>
/// The daemon's one socket, edgemail.sock in the spool folder: `serve` in-process on loopback port 0, and the verbs
/// (queue and its subcommands, status, mailq) asking it. Without an answer they work on the spool's files.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonSocketTests : VerbHarness
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private string SocketPath => Path.Combine(SpoolDir, DaemonProtocol.SocketName);

    /// <summary>`serve` in-process until disposed; its log lines can be awaited.</summary>
    private sealed class Daemon : IAsyncDisposable
    {
        private readonly TaskCompletionSource _stop = new();
        private readonly Task<int> _run;
        public LogWatch Log { get; } = new();

        public Daemon(string dir, string[]? relay)
        {
            var context = new CliContext { Out = Log.Out, Error = Log, CurrentDirectory = dir };
            // No relay given: MX delivery off, so nothing leaves and the spool alone answers the socket.
            _run = ServeCommand.RunAsync(context, new ServeCommand.Request(null, ["127.0.0.1:0"], "spool", relay, Verbose: false,
                MxDelivery: relay is not null), _stop.Task);
        }

        public Task StartedAsync() => Log.WaitForAsync("ready as");

        public async ValueTask DisposeAsync()
        {
            _stop.TrySetResult();
            Assert.Equal(0, await _run.WaitAsync(Limit));
        }
    }

    private async Task<Daemon> StartDaemonAsync(string[]? relay = null)
    {
        var daemon = new Daemon(Dir, relay);
        await daemon.StartedAsync().WaitAsync(Limit);
        return daemon;
    }

    private string Output()
    {
        string text = Out.ToString();
        Out.GetStringBuilder().Clear();
        return text;
    }

    [Fact]
    public async Task The_daemon_serves_one_owner_only_socket_in_the_spool_folder_and_removes_it_when_it_stops()
    {
        await using (await StartDaemonAsync())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
            Assert.Equal([DaemonProtocol.SocketName], Directory.GetFiles(SpoolDir, "*.sock").Select(Path.GetFileName));
        }
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task A_stale_socket_from_a_daemon_that_died_is_ignored_by_the_verbs_and_replaced_at_start()
    {
        string id = await QueueAsync();
        // What a daemon killed with -9 leaves: a bound socket file nobody listens on. (A .NET socket unlinks its file
        // when disposed, so another process makes it.)
        Directory.CreateDirectory(SpoolDir);
        using (var python = System.Diagnostics.Process.Start("/usr/bin/python3",
                   ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", SocketPath])!)
            await python.WaitForExitAsync().WaitAsync(Limit);
        Assert.True(File.Exists(SocketPath));

        Assert.Equal(0, Run("queue", "hold", id, "--spool", SpoolDir));
        Assert.Contains($"{id}: held", Output());
        Assert.Equal(StatusCommand.NotRunning, Run("status", "--spool", SpoolDir));
        Assert.StartsWith("daemon: not running", Output());

        await using Daemon daemon = await StartDaemonAsync();
        Assert.Equal(0, Run("status", "--spool", SpoolDir));
        Assert.StartsWith("daemon: running", Output());
    }

    [Fact]
    public async Task Hold_release_delete_and_the_listing_go_through_the_daemon_which_logs_each_change()
    {
        string id = await QueueAsync();
        await using Daemon daemon = await StartDaemonAsync();

        Assert.Equal(0, Run("queue", "hold", id, "--spool", SpoolDir));
        Assert.Contains($"{id}: held", Output());
        Assert.Equal(0, Run("queue", "--json", "--spool", SpoolDir));
        JsonElement item = Assert.Single(JsonDocument.Parse(Output()).RootElement.EnumerateArray().ToList());
        Assert.Equal(QueueListing.Hold, item.GetProperty("location").GetString());
        Assert.True(item.GetProperty("held").GetBoolean());

        Assert.Equal(0, Run("queue", "release", id, "--spool", SpoolDir));
        Assert.Equal(67, Run("queue", "release", id, "--spool", SpoolDir));
        Assert.Contains($"{id}: no such message", Err.ToString());
        Assert.Equal(0, Run("queue", "delete", id, "--spool", SpoolDir));
        Assert.Equal($"{id}: released\n{id}: deleted\n", Output().ReplaceLineEndings("\n"));
        Assert.Equal(0, Run("queue", "--spool", SpoolDir));
        Assert.Equal("", Output());

        foreach (string change in new[] { "HOLD " + id, "RELEASE " + id, "DELETE " + id })
            Assert.Contains("control: " + change, daemon.Log.Text);
    }

    [Fact]
    public async Task Flush_on_a_daemon_that_does_not_deliver_says_so_instead_of_pretending()
    {
        await using Daemon daemon = await StartDaemonAsync();

        Assert.Equal(0, Run("queue", "flush", "--spool", SpoolDir));

        Assert.Contains("nothing to flush", Output());
    }

    [Fact]
    public async Task Status_shows_each_route_from_the_relay_a_refused_upstream_is_failing_since_its_first_attempt()
    {
        int port = FreePort();
        await using Daemon daemon = await StartDaemonAsync([$"smtp://127.0.0.1:{port}"]);
        Assert.Equal(0, Run("status", "--json", "--spool", SpoolDir));
        JsonElement before = JsonDocument.Parse(Output()).RootElement.GetProperty("routes")[0];
        Assert.Equal("never tried", before.GetProperty("state").GetString());

        string id = await QueueThroughSmtpAsync(daemon);
        await daemon.Log.WaitForAsync(id + ": to=<ops@lan>", "status=deferred").WaitAsync(Limit);

        Assert.Equal(0, Run("status", "--json", "--spool", SpoolDir));
        JsonElement route = JsonDocument.Parse(Output()).RootElement.GetProperty("routes")[0];
        Assert.Equal("default", route.GetProperty("route").GetString());
        Assert.Equal($"127.0.0.1:{port}", route.GetProperty("hosts").GetString());
        Assert.Equal("failing", route.GetProperty("state").GetString());
        Assert.Equal("deferred", route.GetProperty("last_result").GetString());
        Assert.Equal(1, route.GetProperty("consecutive_failures").GetInt32());
        Assert.Contains("127.0.0.1", route.GetProperty("last_reply").GetString());
        Assert.Equal(route.GetProperty("last_attempt").GetString(), route.GetProperty("failing_since").GetString());

        Assert.Equal(0, Run("status", "--spool", SpoolDir));
        Assert.Contains($"route default (127.0.0.1:{port}): failing since ", Output());
    }

    [Fact]
    public async Task Without_a_daemon_queue_mailq_and_status_show_a_sendmail_drop_as_waiting_and_leave_it_in_the_maildrop()
    {
        Assert.Equal(0, RunAs("sendmail", "Subject: disk\n\nfull\n", "-f", "cron@lan", "--spool", SpoolDir, "ops@lan"));
        string id = Assert.Single(Directory.GetFiles(Path.Combine(SpoolDir, "maildrop")).Select(Path.GetFileName))!;

        Assert.Equal(0, Run("queue", "--spool", SpoolDir));
        Assert.Matches($@"^{id}  \d+  \d+s  cron@lan  -> ops@lan  attempts=0  maildrop \(waiting for the daemon\)\n$", Output().ReplaceLineEndings("\n"));
        Assert.Equal(0, Run("queue", "--json", "--spool", SpoolDir));
        JsonElement item = JsonDocument.Parse(Output()).RootElement[0];
        Assert.Equal(id, item.GetProperty("id").GetString());
        Assert.Equal(QueueListing.Maildrop, item.GetProperty("location").GetString());
        Assert.Equal(0, RunAs("mailq", "", "--spool", SpoolDir));
        string mailq = Output();
        Assert.Contains("(waiting in maildrop for the daemon)", mailq);
        Assert.Contains("-- 1 Kbytes in 1 Request.", mailq);
        Assert.Equal(StatusCommand.NotRunning, Run("status", "--json", "--spool", SpoolDir));
        Assert.Equal(1, JsonDocument.Parse(Output()).RootElement.GetProperty("queue").GetProperty("maildrop").GetInt32());

        Assert.Equal([id], Directory.GetFiles(Path.Combine(SpoolDir, "maildrop")).Select(Path.GetFileName));
        Assert.False(Directory.Exists(Path.Combine(SpoolDir, "queue")));   // the spool was only read, never opened
    }

    [Fact]
    public async Task A_drop_made_without_a_daemon_is_listed_as_queued_once_the_daemon_has_started()
    {
        Assert.Equal(0, RunAs("sendmail", "Subject: disk\n\nfull\n", "-f", "cron@lan", "--spool", SpoolDir, "ops@lan"));
        Assert.Equal(0, Run("queue", "--json", "--spool", SpoolDir));
        Assert.Equal(QueueListing.Maildrop, JsonDocument.Parse(Output()).RootElement[0].GetProperty("location").GetString());

        await using Daemon daemon = await StartDaemonAsync();

        Assert.Equal(0, Run("queue", "--json", "--spool", SpoolDir));
        Assert.Equal(QueueListing.Queue, JsonDocument.Parse(Output()).RootElement[0].GetProperty("location").GetString());
    }

    [Fact]
    public async Task A_queue_ID_that_could_be_a_path_is_refused_before_anything_is_opened()
    {
        QueueControlResult result = await DaemonClient.ControlAsync("/nonexistent-spool", DaemonVerb.Delete, "../../etc/passwd");

        Assert.False(result.Ok);
        Assert.Contains("invalid queue ID", result.Message);
        Assert.False(Directory.Exists("/nonexistent-spool"));
    }

    [Theory]
    [InlineData("FLUSH", DaemonVerb.Flush, null)]
    [InlineData("delete ABC123", DaemonVerb.Delete, "ABC123")]
    [InlineData("HOLD A1", DaemonVerb.Hold, "A1")]
    [InlineData("RELEASE A1", DaemonVerb.Release, "A1")]
    [InlineData("LIST", DaemonVerb.List, null)]
    [InlineData("STATUS", DaemonVerb.Status, null)]
    public void Requests_parse(string line, DaemonVerb verb, string? id)
    {
        Assert.True(DaemonProtocol.TryParse(line, out DaemonVerb v, out string? i));
        Assert.Equal((verb, id), (v, i));
    }

    [Theory]
    [InlineData("DELETE")]
    [InlineData("FLUSH now")]
    [InlineData("DELETE ../../etc/passwd")]
    [InlineData("HOLD a b")]
    [InlineData("REBOOT")]
    [InlineData("")]
    public void Bad_requests_are_refused(string line) => Assert.False(DaemonProtocol.TryParse(line, out _, out _));

    [Theory]
    [InlineData("REBOOT\n", "ERR usage: FLUSH | DELETE id | HOLD id | RELEASE id | LIST | STATUS\n")]
    [InlineData("HOLD ../x\n", "ERR usage: FLUSH | DELETE id | HOLD id | RELEASE id | LIST | STATUS\n")]
    [InlineData("HOLD ABC\n", "OK ABC: held\n")]
    [InlineData("LIST\n", "OK\n[]")]
    public async Task The_server_answers_each_request_with_one_status_line_and_for_a_listing_the_document(string request, string reply)
    {
        Directory.CreateDirectory(SpoolDir);
        await using var server = new DaemonSocketServer(SpoolDir, (verb, id) => verb == DaemonVerb.List
            ? new DaemonReply(true, "", messages: [])
            : new DaemonReply(true, DaemonProtocol.Outcome(true, id!, "held")), NullLogger.Instance);

        Assert.Equal(reply, await ExchangeAsync(Encoding.ASCII.GetBytes(request)));
    }

    [Fact]
    public async Task A_request_longer_than_256_bytes_is_refused_without_being_executed()
    {
        Directory.CreateDirectory(SpoolDir);
        bool called = false;
        await using var server = new DaemonSocketServer(SpoolDir, (_, _) => { called = true; return new DaemonReply(true, ""); }, NullLogger.Instance);

        string reply = await ExchangeAsync(Encoding.ASCII.GetBytes("HOLD " + new string('A', 300) + "\n"));

        Assert.Equal("ERR request longer than 256 bytes\n", reply);
        Assert.False(called);
    }

    private async Task<string> ExchangeAsync(byte[] request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        await socket.SendAsync(request, SocketFlags.None);
        byte[] reply = await DaemonProtocol.ReadAllAsync(socket, 1 << 20, untilNewline: false, CancellationToken.None).WaitAsync(Limit) ?? [];
        return Encoding.UTF8.GetString(reply);
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>One message through the daemon's SMTP listener; returns its queue ID.</summary>
    private static async Task<string> QueueThroughSmtpAsync(Daemon daemon)
    {
        string listening = await daemon.Log.Out.FirstLine.WaitAsync(Limit);
        int port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..]);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
        await using var writer = new StreamWriter(client.GetStream(), Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
        string last = "";
        async Task Say(string? line)
        {
            if (line is not null) await writer.WriteLineAsync(line);
            last = (await reader.ReadLineAsync().WaitAsync(Limit))!;
            while (last.Length > 3 && last[3] == '-') last = (await reader.ReadLineAsync().WaitAsync(Limit))!;
        }
        await Say(null);
        await Say("EHLO test");
        await Say("MAIL FROM:<app@lan>");
        await Say("RCPT TO:<ops@lan>");
        await Say("DATA");
        await Say("Subject: t\r\n\r\nbody\r\n.");
        Assert.StartsWith("250 2.0.0 Ok: queued as ", last);
        string id = last["250 2.0.0 Ok: queued as ".Length..].Trim();
        await Say("QUIT");
        return id;
    }
}
