using System.Text;
using System.Text.RegularExpressions;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// The published binary's local verbs as scripts meet them: sendmail and mailq through symlinks, queue
/// hold/release/delete with and without a running daemon, alert, user. The daemon's relay points at an
/// upstream that always answers 421, so queued messages stay queued while the verbs act on them.
/// </summary>
public sealed class LocalVerbTests(ITestOutputHelper output)
{
    const int ExUsage = 64, ExNoUser = 67;

    static EdgeMailBinary Binary => EdgeMailBinary.X64;

    const string CronMail =
        "From: Backup <backup@lan>\nTo: ops@lan\nCc: Second <second@lan>\nBcc: hidden@lan\nSubject: nightly backup\n\nAll 3 volumes copied.\n";

    static Task<ToolResult> RunAsync(string stdin, params string[] arguments) =>
        Tool.RunAsync(Binary.StartInfo(arguments, Path.GetTempPath()), stdin);

    /// <summary>The binary under another name, as /usr/sbin/sendmail and /usr/bin/mailq are installed.</summary>
    static string Link(TempDirectory dir, string name)
    {
        string bin = Directory.CreateDirectory(dir.File("bin")).FullName;
        string link = Path.Combine(bin, name);
        File.CreateSymbolicLink(link, Binary.Path);
        return link;
    }

    Task<EdgeMailServer> StartDaemonAsync(string spool, DeferringUpstream upstream) =>
        EdgeMailServer.StartAsync(Binary, spool, output, extraArguments: ["--relay", upstream.Url]);

    static void AssertExit(int expected, ToolResult run) =>
        Assert.True(run.ExitCode == expected, $"expected exit {expected}\n{run}");

    [Fact]
    public async Task Sendmail_symlink_with_t_queues_without_a_daemon_queue_lists_it_as_waiting_and_the_daemon_started_later_queues_it()
    {
        using var dir = new TempDirectory("sendmail");
        string spool = dir.File("spool");

        var run = await Tool.RunAsync(Link(dir, "sendmail"), ["-t", "-oi", "--spool", spool], CronMail);

        AssertExit(0, run);
        Assert.Equal("", run.Stdout);
        string id = Path.GetFileName(Assert.Single(Directory.GetFiles(Path.Combine(spool, "maildrop"))));

        // No daemon: the listing shows the drop, where it is, and leaves it there for the daemon.
        var waiting = Assert.Single(await EdgeMailCli.QueueAsync(Binary, spool));
        Assert.Equal(id, waiting.Id);
        Assert.Equal(["ops@lan", "second@lan", "hidden@lan"], waiting.Recipients);
        Assert.Equal("maildrop", await LocationAsync(spool, id));
        Assert.Contains("maildrop (waiting for the daemon)", (await RunAsync("", "queue", "--spool", spool)).Stdout);
        Assert.Contains("(waiting in maildrop for the daemon)", (await Tool.RunAsync(Link(dir, "mailq"), ["--spool", spool])).Stdout);
        Assert.Equal([id], Directory.GetFiles(Path.Combine(spool, "maildrop")).Select(Path.GetFileName));

        await using var upstream = new DeferringUpstream();
        await using var server = await StartDaemonAsync(spool, upstream);
        var queued = Assert.Single(await EdgeMailCli.QueueAsync(Binary, spool));
        Assert.Equal(id, queued.Id);
        Assert.Equal(["ops@lan", "second@lan", "hidden@lan"], queued.Recipients);
        Assert.Equal("queue", await LocationAsync(spool, id));
        Assert.Empty(Directory.GetFiles(Path.Combine(spool, "maildrop")));
        Assert.Equal(0, await server.StopAsync());
    }

    /// <summary>Where `queue --json` says the message is: "queue", "hold" or "maildrop".</summary>
    static async Task<string?> LocationAsync(string spool, string id)
    {
        var run = await RunAsync("", "queue", "--json", "--spool", spool);
        AssertExit(0, run);
        using var json = System.Text.Json.JsonDocument.Parse(run.Stdout);
        return json.RootElement.EnumerateArray().Single(m => m.GetProperty("id").GetString() == id).GetProperty("location").GetString();
    }

    [Fact]
    public async Task Sendmail_while_the_daemon_runs_is_imported_and_listed()
    {
        using var dir = new TempDirectory("sendmail-daemon");
        string spool = dir.File("spool");
        await using var upstream = new DeferringUpstream();
        await using var server = await StartDaemonAsync(spool, upstream);

        var run = await RunAsync("Subject: disk\n\nfull\n", "sendmail", "-f", "sensor@lan", "--spool", spool, "ops@lan");

        AssertExit(0, run);
        await server.WaitForLogAsync(1, "from maildrop");
        var queued = Assert.Single(await EdgeMailCli.QueueAsync(Binary, spool));
        Assert.Equal("sensor@lan", queued.Sender);
        Assert.Equal(["ops@lan"], queued.Recipients);
    }

    [Fact]
    public async Task Mailq_symlink_prints_the_queue_in_Postfix_layout_beside_a_running_daemon()
    {
        using var dir = new TempDirectory("mailq");
        string spool = dir.File("spool");
        var drop = await Tool.RunAsync(Link(dir, "sendmail"), ["-f", "cron@lan", "--spool", spool, "root@lan"], "Subject: x\n\ny\n");
        AssertExit(0, drop);
        await using var upstream = new DeferringUpstream();
        await using var server = await StartDaemonAsync(spool, upstream);
        string id = Assert.Single(await EdgeMailCli.QueueAsync(Binary, spool)).Id;

        var run = await Tool.RunAsync(Link(dir, "mailq"), ["--spool", spool]);

        AssertExit(0, run);
        string[] lines = run.Stdout.Split('\n');
        Assert.StartsWith("-Queue ID-", lines[0]);
        Assert.Matches($@"^{id}!? +\d+ \w{{3}} \w{{3}} \d\d \d\d:\d\d:\d\d +cron@lan$", lines[1]);
        Assert.Contains(lines, l => l.Trim() == "root@lan");
        Assert.Matches(@"-- \d+ Kbytes in 1 Request\.", run.Stdout);
    }

    [Fact]
    public async Task Queue_hold_release_and_delete_go_through_a_running_daemon()
    {
        using var dir = new TempDirectory("control-daemon");
        string spool = dir.File("spool");
        await using var upstream = new DeferringUpstream();
        await using var server = await StartDaemonAsync(spool, upstream);
        var alert = await RunAsync("held test\n", "alert", "--to", "ops@lan", "--subject", "hold me", "--spool", spool);
        AssertExit(0, alert);
        string id = alert.Stdout.Trim();
        // Not in the middle of an attempt: the first one has been deferred by the 421 upstream.
        await server.WaitForLogAsync(1, id + ": to=", "status=deferred");

        var hold = await RunAsync("", "queue", "hold", id, "--spool", spool);
        AssertExit(0, hold);
        Assert.Contains($"{id}: held", hold.Stdout);
        Assert.Contains("  held", (await RunAsync("", "queue", "--spool", spool)).Stdout);

        AssertExit(0, await RunAsync("", "queue", "release", id, "--spool", spool));
        // Release schedules it at once; wait for that attempt to end before deleting.
        await server.WaitForLogAsync(2, id + ": to=", "status=deferred");
        var delete = await RunAsync("", "queue", "delete", id, "--spool", spool);
        AssertExit(0, delete);
        Assert.Empty(await EdgeMailCli.QueueAsync(Binary, spool));

        AssertExit(ExNoUser, await RunAsync("", "queue", "delete", id, "--spool", spool));
        AssertExit(ExUsage, await RunAsync("", "queue", "hold", "../../etc/passwd", "--spool", spool));
        AssertExit(0, await RunAsync("", "queue", "flush", "--spool", spool));
        // The daemon, not the command, did it: each one is in its log.
        foreach (string verb in new[] { "HOLD " + id, "RELEASE " + id, "DELETE " + id, "FLUSH" })
            Assert.Contains("control: " + verb, server.Log);
    }

    [Fact]
    public async Task Queue_hold_release_and_delete_act_on_the_spool_when_no_daemon_runs()
    {
        using var dir = new TempDirectory("control-spool");
        string spool = dir.File("spool");
        AssertExit(0, await RunAsync(CronMail, "sendmail", "-t", "--spool", spool));
        string id = Assert.Single(await EdgeMailCli.QueueAsync(Binary, spool)).Id;

        AssertExit(0, await RunAsync("", "queue", "hold", id, "--spool", spool));
        Assert.Contains("  held", (await RunAsync("", "queue", "--spool", spool)).Stdout);
        AssertExit(0, await RunAsync("", "queue", "release", id, "--spool", spool));
        AssertExit(ExNoUser, await RunAsync("", "queue", "release", id, "--spool", spool));
        AssertExit(0, await RunAsync("", "queue", "delete", id, "--spool", spool));
        Assert.Empty(await EdgeMailCli.QueueAsync(Binary, spool));
        var flush = await RunAsync("", "queue", "flush", "--spool", spool);
        AssertExit(0, flush);
        Assert.Contains("no daemon running", flush.Stdout);
    }

    [Fact]
    public async Task Alert_is_queued_with_an_RFC_2047_encoded_subject()
    {
        using var dir = new TempDirectory("alert");
        string spool = dir.File("spool");

        var run = await RunAsync("Température du boîtier: 71 °C\n",
            "alert", "--to", "ops@lan", "--to", "oncall@lan", "--subject", "Alerte: température élevée", "--spool", spool);

        AssertExit(0, run);
        string id = run.Stdout.Trim();
        var queued = await EdgeMailCli.SingleQueuedAsync(Binary, spool, id);
        Assert.Equal(["ops@lan", "oncall@lan"], queued.Recipients);
        // No daemon runs: the alert waits in the maildrop (listing it does not import it).
        string file = Encoding.Latin1.GetString(File.ReadAllBytes(Path.Combine(spool, "maildrop", id)));
        Match subject = Regex.Match(file, @"^Subject: (.*(?:\r\n[ \t].*)*)\r\n", RegexOptions.Multiline);
        Assert.True(subject.Success, file);
        Assert.Matches(@"=\?utf-8\?[bBqQ]\?", subject.Groups[1].Value);
        Assert.Equal("Alerte: température élevée", MimeKit.Utils.Rfc2047.DecodeText(Encoding.ASCII.GetBytes(subject.Groups[1].Value)).Replace("\r\n", "").Trim());
    }

    [Fact]
    public async Task User_add_then_list_shows_the_user_and_the_file_holds_no_password()
    {
        using var dir = new TempDirectory("user");
        string users = dir.File("users");

        AssertExit(0, await RunAsync("correct horse\n", "user", "add", "alice", "--users", users));
        var list = await RunAsync("", "user", "list", "--users", users);

        AssertExit(0, list);
        Assert.Equal("alice", list.Stdout.Trim());
        Assert.DoesNotContain("correct horse", File.ReadAllText(users));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(users));
    }
}
