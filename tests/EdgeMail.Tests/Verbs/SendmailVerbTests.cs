using EdgeMail.Cli;
using System.Text;
using EdgeMail.Spool;

namespace EdgeMail.Tests.Verbs;

/// <summary>sendmail and mailq as scripts and cron call them: by argv[0] or as `edgemail sendmail`.</summary>
public sealed class SendmailVerbTests : VerbHarness
{
    private const string Message =
        "From: App <app@lan>\nTo: ops@lan\nCc: Two <two@lan>\nBcc: hidden@lan\nSubject: backup done\n\nAll fine.\n";

    private string Config(string hostname = "pi.lan")
    {
        string path = Path.Combine(Dir, "edgemail.toml");
        File.WriteAllText(path, $"[server]\nhostname = \"{hostname}\"\n\n[spool]\ndirectory = \"{SpoolDir}\"\n");
        return path;
    }

    private string Body(QueueEntry entry)
    {
        using MessageSpool spool = MessageSpool.Open(new SpoolOptions { Directory = SpoolDir });
        using Stream stream = spool.OpenMessage(entry.Id);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    [Fact]
    public void Sendmail_t_takes_the_recipients_from_To_Cc_and_Bcc_and_queues_without_a_daemon()
    {
        Assert.Equal(0, RunAs("sendmail", Message, "-t", "-i", "--spool", SpoolDir));

        QueueEntry entry = Spooled().Single();
        Assert.Equal(["ops@lan", "two@lan", "hidden@lan"], entry.Envelope.Recipients);
        Assert.DoesNotContain("hidden@lan", Body(entry));
        Assert.Equal("", Out.ToString());
    }

    [Fact]
    public void The_sendmail_verb_takes_recipients_as_arguments_and_the_sender_from_f()
    {
        Assert.Equal(0, RunWithInput("Subject: x\n\nbody\n", "sendmail", "-f", "me@lan", "-oi", "-odi", "-oem", "--spool", SpoolDir, "ops@lan"));

        QueueEntry entry = Spooled().Single();
        Assert.Equal("me@lan", entry.Envelope.Sender);
        Assert.Equal(["ops@lan"], entry.Envelope.Recipients);
    }

    [Fact]
    public void Without_f_the_sender_is_the_calling_user_at_the_configured_host_and_bare_names_get_that_host()
    {
        Assert.Equal(0, RunAs("sendmail", "Subject: cron\n\nout\n", "--config", Config(), "root"));

        QueueEntry entry = Spooled().Single();
        Assert.Equal("cron@pi.lan", entry.Envelope.Sender);
        Assert.Equal(["root@pi.lan"], entry.Envelope.Recipients);
        Assert.Matches("(?im)^Message-Id: <.+@pi\\.lan>", Body(entry));
    }

    [Fact]
    public void No_recipients_is_a_usage_error_64()
    {
        Assert.Equal(64, RunAs("sendmail", "Subject: x\n\nbody\n", "--spool", SpoolDir));
        Assert.StartsWith("sendmail: no recipients", Err.ToString());
    }

    [Fact]
    public void An_unknown_flag_is_a_usage_error_64()
    {
        Assert.Equal(64, RunAs("sendmail", "", "-Z", "ops@lan", "--spool", SpoolDir));
        Assert.Contains("unknown option -Z", Err.ToString());
    }

    [Fact]
    public void Bs_speaks_SMTP_on_stdin_and_stdout_and_the_accepted_message_waits_in_the_maildrop()
    {
        string dialogue = "EHLO nas.lan\r\nMAIL FROM:<nas@lan>\r\nRCPT TO:<ops@lan>\r\nDATA\r\n"
                        + "Subject: scrub done\r\n\r\n..no errors\r\n.\r\nQUIT\r\n";
        var stdout = new MemoryStream();
        int exit = Program.Run(new CliContext
        {
            Out = Out,
            Error = Err,
            CurrentDirectory = Dir,
            Input = new MemoryStream(Encoding.ASCII.GetBytes(dialogue)),
            OutputStream = stdout,
        }, Personality.Rewrite("sendmail", ["-bs", "--spool", SpoolDir]));

        Assert.Equal(0, exit);
        string replies = Encoding.ASCII.GetString(stdout.ToArray());
        Assert.StartsWith("220 ", replies);
        Assert.Contains("250 2.0.0 Ok: queued as ", replies);
        Assert.Contains("221 ", replies);
        string id = replies.Split("queued as ")[1][..16];
        Assert.True(File.Exists(Path.Combine(SpoolDir, "maildrop", id)), replies);

        QueueEntry entry = Spooled().Single();          // imported when the spool is opened, as the daemon does
        Assert.Equal("nas@lan", entry.Envelope.Sender);
        Assert.Equal(["ops@lan"], entry.Envelope.Recipients);
        Assert.Contains("\r\n.no errors\r\n", Body(entry));   // dot-unstuffed
    }

    [Fact]
    public void A_recipient_that_is_not_an_address_is_EX_NOUSER_67_and_nothing_is_queued()
    {
        Assert.Equal(67, RunAs("sendmail", "Subject: x\n\nbody\n", "--spool", SpoolDir, "two words"));
        Assert.False(Directory.Exists(Path.Combine(SpoolDir, "maildrop")) && Directory.EnumerateFiles(Path.Combine(SpoolDir, "maildrop")).Any());
    }

    [Fact]
    public void A_broken_config_is_EX_CONFIG_78()
    {
        string path = Path.Combine(Dir, "bad.toml");
        File.WriteAllText(path, "[server]\nno_such_key = 1\n");
        Assert.Equal(78, RunAs("sendmail", "", "--config", path, "ops@lan"));
    }

    [Fact]
    public async Task Mailq_lists_the_queue_in_Postfix_layout()
    {
        string id = await QueueAsync("app@lan");

        Assert.Equal(0, RunAs("mailq", "", "--spool", SpoolDir));

        string[] lines = Out.ToString().Split('\n');
        Assert.StartsWith("-Queue ID-", lines[0]);
        Assert.StartsWith(id, lines[1]);
        Assert.EndsWith("app@lan", lines[1].TrimEnd());
        Assert.Contains("ops@lan", lines[2]);
        Assert.Contains("-- 1 Kbytes in 1 Request.", Out.ToString());
    }

    [Fact]
    public async Task Sendmail_bp_and_the_mailq_verb_print_the_same_listing()
    {
        await QueueAsync();
        RunAs("mailq", "", "--spool", SpoolDir);
        string mailq = Out.ToString();
        Out.GetStringBuilder().Clear();
        Assert.Equal(0, Run("sendmail", "-bp", "--spool", SpoolDir));
        string bp = Out.ToString();
        Out.GetStringBuilder().Clear();
        Assert.Equal(0, Run("mailq", "--spool", SpoolDir));

        Assert.Equal(mailq, bp);
        Assert.Equal(mailq, Out.ToString());
    }

    [Fact]
    public void Mailq_on_an_empty_spool_says_so()
    {
        Directory.CreateDirectory(SpoolDir);
        Assert.Equal(0, RunAs("mailq", "", "--spool", SpoolDir));
        Assert.Equal("Mail queue is empty", Out.ToString().Trim());
    }

    [Fact]
    public void Mailq_on_a_spool_that_does_not_exist_is_66()
    {
        Assert.Equal(66, RunAs("mailq", "", "--spool", Path.Combine(Dir, "typo")));
    }

    [Fact]
    public void Sendmail_q_without_a_daemon_succeeds()
    {
        Directory.CreateDirectory(SpoolDir);
        Assert.Equal(0, RunAs("sendmail", "", "-q", "--spool", SpoolDir));
    }

    [Theory]
    [InlineData("sendmail")]
    [InlineData("mailq")]
    public void Help_for_sendmail_and_mailq_exits_0(string name)
    {
        Assert.Equal(0, RunAs(name, "", "--help"));
        Assert.StartsWith("Usage: " + name, Out.ToString());
    }

    [Fact]
    public void The_program_help_lists_the_new_verbs()
    {
        Assert.Equal(0, Run("--help"));
        foreach (string verb in new[] { "sendmail", "mailq", "alert", "user" })
            Assert.Contains(verb, Out.ToString());
    }
}
