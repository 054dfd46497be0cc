using System.Text;
using EdgeMail.Device.Local;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Tests;

public class SendmailOptionsTests
{
    private static SendmailOptions Parse(params string[] args) => SendmailOptions.Parse(args);

    [Fact]
    public void Recipients_are_the_arguments()
    {
        var o = Parse("-i", "alice@example.com", "bob@example.com");
        Assert.Null(o.Error);
        Assert.Equal(SendmailMode.Deliver, o.Mode);
        Assert.True(o.IgnoreDots);
        Assert.Equal(["alice@example.com", "bob@example.com"], o.Recipients);
    }

    [Theory]
    [InlineData("-f", "me@example.com")]
    [InlineData("-fme@example.com")]
    [InlineData("-r", "me@example.com")]
    [InlineData("-rme@example.com")]
    [InlineData("-f", "<me@example.com>")]
    public void Sender_comes_from_f_or_r_joined_or_separate(params string[] args)
        => Assert.Equal("me@example.com", Parse([.. args, "-t"]).Sender);

    [Fact]
    public void Null_sender_is_written_as_angle_brackets()
        => Assert.Equal("", Parse("-f", "<>", "-t").Sender);

    [Theory]
    [InlineData("-ti")]
    [InlineData("-it")]
    public void Flags_without_a_value_can_share_one_dash(string flags)
    {
        var o = Parse(flags);
        Assert.True(o.ExtractRecipients);
        Assert.True(o.IgnoreDots);
        Assert.Null(o.Error);
    }

    [Fact]
    public void Full_name_joined_or_separate()
    {
        Assert.Equal("Cron Daemon", Parse("-F", "Cron Daemon", "-t").FullName);
        Assert.Equal("Cron", Parse("-FCron", "-t").FullName);
    }

    [Theory]
    [InlineData("-oi")]
    [InlineData("-i")]
    public void Dots_are_data_with_i_or_oi(string flag) => Assert.True(Parse(flag, "a@example.com").IgnoreDots);

    [Theory]
    [InlineData("-oem")]
    [InlineData("-odi")]
    [InlineData("-oee")]
    [InlineData("-odb")]
    [InlineData("-oQ/var/spool")]
    [InlineData("-v")]
    [InlineData("-N", "never")]
    [InlineData("-B8BITMIME")]
    [InlineData("-R", "hdrs")]
    [InlineData("-V", "envid")]
    [InlineData("-L", "label")]
    [InlineData("-U")]
    [InlineData("-G")]
    [InlineData("-C", "/etc/mail/sendmail.cf")]
    public void Sendmail_tuning_flags_are_accepted_and_ignored(params string[] flags)
    {
        var o = Parse([.. flags, "a@example.com"]);
        Assert.Null(o.Error);
        Assert.Equal(["a@example.com"], o.Recipients);
    }

    [Fact]
    public void Bp_and_the_name_mailq_list_the_queue()
    {
        Assert.Equal(SendmailMode.ListQueue, Parse("-bp").Mode);
        Assert.Equal(SendmailMode.ListQueue, SendmailOptions.Parse([], "/usr/bin/mailq").Mode);
        Assert.Null(SendmailOptions.Parse([], "mailq").Error);
    }

    [Fact]
    public void Bs_is_smtp_on_stdin_and_q_flushes()
    {
        Assert.Equal(SendmailMode.Smtp, Parse("-bs").Mode);
        Assert.Equal(SendmailMode.Flush, Parse("-q").Mode);
        Assert.Equal(SendmailMode.Flush, Parse("-q15m").Mode);
    }

    [Fact]
    public void Spool_and_config_are_taken_like_the_other_verbs()
    {
        var o = Parse("--spool", "/tmp/s", "--config", "/etc/e.toml", "-t");
        Assert.Equal("/tmp/s", o.SpoolDirectory);
        Assert.Equal("/etc/e.toml", o.ConfigFile);
    }

    [Fact]
    public void Double_dash_ends_the_options()
        => Assert.Equal(["-weird@example.com"], Parse("--", "-weird@example.com").Recipients);

    [Theory]
    [InlineData("-Z")]
    [InlineData("-bz", "a@example.com")]
    [InlineData("-f")]
    [InlineData("-o")]
    [InlineData("-i")]              // no recipients and no -t
    [InlineData("--spool")]
    public void Unusable_command_lines_are_usage_errors(params string[] args)
        => Assert.NotNull(Parse(args).Error);
}

public sealed class SendmailMessageTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly SendmailDefaults Defaults = new() { Sender = "pi@edgepi.lan", Domain = "edgepi.lan", HostName = "edgepi" };
    private readonly string _spool = Directory.CreateTempSubdirectory("edgemail-sendmail-").FullName;

    public void Dispose() => Directory.Delete(_spool, recursive: true);

    private static SendmailResult Prepare(string input, params string[] args)
        => SendmailMessage.Prepare(Encoding.UTF8.GetBytes(input), SendmailOptions.Parse(args), Defaults, Now);

    private static string Text(SendmailResult r) => Encoding.UTF8.GetString(r.Message!.Data);

    private static MimeMessage Mime(SendmailResult r) => MimeMessage.Load(new MemoryStream(r.Message!.Data));

    [Fact]
    public void Date_message_id_and_from_are_added_when_missing()
    {
        var r = Prepare("Subject: disk\n\nsda is 91% full\n", "admin@example.com");
        Assert.True(r.Ok, r.Error);
        var m = Mime(r);
        Assert.Equal(Now, m.Date);
        Assert.EndsWith("@edgepi", m.MessageId);
        Assert.Equal("pi@edgepi.lan", m.From.Mailboxes.Single().Address);
        Assert.Equal("disk", m.Subject);
        Assert.EndsWith("\r\n\r\nsda is 91% full\r\n", Text(r));
    }

    [Fact]
    public void Headers_that_are_present_are_kept_as_they_came()
    {
        var input = "From: Boiler <boiler@example.com>\nDate: Mon, 12 Jan 2026 10:00:00 +0100\nMessage-ID: <x1@boiler>\n" +
                    "X-Odd:   spacing kept\nSubject: =?utf-8?q?Hei=C3=9F?=\n\nbody\n";
        var text = Text(Prepare(input, "admin@example.com"));
        Assert.StartsWith("From: Boiler <boiler@example.com>\r\nDate: Mon, 12 Jan 2026 10:00:00 +0100\r\nMessage-ID: <x1@boiler>\r\n" +
                          "X-Odd:   spacing kept\r\nSubject: =?utf-8?q?Hei=C3=9F?=\r\n\r\nbody\r\n", text);
    }

    [Fact]
    public void Full_name_goes_into_the_added_from_and_is_rfc2047_encoded_when_needed()
    {
        var r = Prepare("Subject: x\n\nbody\n", "-F", "Kühlraum Sensor", "-f", "cold@example.com", "a@example.com");
        var m = Mime(r);
        Assert.Equal("Kühlraum Sensor", m.From.Mailboxes.Single().Name);
        Assert.Contains("From: =?", Text(r));
        Assert.Equal("cold@example.com", r.Message!.Envelope.Sender);
    }

    [Fact]
    public void With_t_recipients_come_from_to_cc_and_bcc_and_bcc_is_removed()
    {
        var r = Prepare("To: Alice <alice@example.com>, bob@example.com\nCc: team: carol@example.com, dan@example.com;\n" +
                        "Bcc: audit@example.com\nSubject: hi\n\nbody\n", "-t", "-i");
        Assert.True(r.Ok, r.Error);
        Assert.Equal(["alice@example.com", "bob@example.com", "carol@example.com", "dan@example.com", "audit@example.com"],
            r.Message!.Envelope.Recipients);
        Assert.DoesNotContain("Bcc", Text(r), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("audit", Text(r));
    }

    [Fact]
    public void With_t_argument_recipients_are_added_and_duplicates_dropped()
    {
        var r = Prepare("To: a@example.com\n\nx\n", "-t", "A@example.com", "b@example.com");
        Assert.Equal(["A@example.com", "b@example.com"], r.Message!.Envelope.Recipients);
    }

    [Fact]
    public void Unqualified_names_get_the_default_domain_as_cron_expects()
    {
        var r = Prepare("Subject: cron\n\nout\n", "root");
        Assert.Equal(["root@edgepi.lan"], r.Message!.Envelope.Recipients);
    }

    [Fact]
    public void A_lone_dot_ends_the_message_unless_i_is_given()
    {
        Assert.EndsWith("\r\n\r\nfirst\r\n", Text(Prepare("Subject: x\n\nfirst\n.\nafter\n", "a@example.com")));
        Assert.EndsWith("\r\n\r\nfirst\r\n.\r\nafter\r\n", Text(Prepare("Subject: x\n\nfirst\n.\nafter\n", "-oi", "a@example.com")));
    }

    [Fact]
    public void Body_bytes_are_kept_with_line_ends_made_crlf()
    {
        var body = "é ü 8-bit\r\nmixed\nends\n..leading dots stay\n";
        var r = Prepare("Subject: x\n\n" + body, "-i", "a@example.com");
        Assert.EndsWith("\r\n\r\né ü 8-bit\r\nmixed\r\nends\r\n..leading dots stay\r\n", Text(r));
        Assert.Equal(BodyType.EightBitMime, r.Message!.Envelope.Body);
    }

    [Fact]
    public void Input_without_headers_becomes_the_body()
    {
        var r = Prepare("just some output\nfrom a script\n", "a@example.com");
        Assert.EndsWith("\r\n\r\njust some output\r\nfrom a script\r\n", Text(r));
        Assert.Equal(Now, Mime(r).Date);
    }

    [Fact]
    public void The_envelope_is_local()
    {
        var e = Prepare("Subject: x\n\nb\n", "-f", "<>", "a@example.com").Message!.Envelope;
        Assert.Equal("", e.Sender);
        Assert.Equal("LOCAL", e.Protocol);
        Assert.Equal("local", e.ClientAddress);
        Assert.Equal(Now, e.Arrived);
    }

    [Theory]
    [InlineData(Sysexits.NoUser, "Subject: x\n\nb\n", "not an address@")]
    [InlineData(Sysexits.Usage, "Subject: x\n\nb\n", "-t")]
    [InlineData(Sysexits.Usage, "Subject: x\n\nb\n", "-Q", "a@example.com")]
    public void Failures_have_sysexits_codes(int code, string input, params string[] args)
        => Assert.Equal(code, Prepare(input, args).ExitCode);

    [Fact]
    public async Task A_message_larger_than_the_limit_is_a_data_error()
    {
        var defaults = new SendmailDefaults { Sender = "a@b.c", Domain = "b.c", MaxMessageSize = 100 };
        var r = await SendmailMessage.ReadAsync(new MemoryStream(new byte[101]), SendmailOptions.Parse(["a@example.com"]), defaults);
        Assert.Equal(Sysexits.DataErr, r.ExitCode);
    }

    [Fact]
    public async Task Sending_drops_the_message_into_the_spool_where_the_daemon_finds_it()
    {
        var input = new MemoryStream("Subject: backup done\n\nok\n"u8.ToArray());
        var r = await SendmailMessage.SendAsync(input, SendmailOptions.Parse(["ops@example.com"]), Defaults, _spool);
        Assert.True(r.Ok, r.Error);
        Assert.NotNull(r.QueueId);

        using var spool = MessageSpool.Open(new SpoolOptions { Directory = _spool, MinFreeBytes = 0 });
        spool.ImportMaildrop();
        var entry = Assert.Single(spool.List());
        Assert.Equal(r.QueueId, entry.Id);
        using var stored = spool.OpenMessage(entry.Id);
        var bytes = new MemoryStream();
        stored.CopyTo(bytes);
        Assert.Equal(r.Message!.Data, bytes.ToArray());
    }

    [Fact]
    public async Task A_spool_that_cannot_be_written_is_a_temporary_failure()
    {
        var file = Path.Combine(_spool, "not-a-directory");
        File.WriteAllText(file, "");
        var r = await SendmailMessage.SendAsync(new MemoryStream("Subject: x\n\nb\n"u8.ToArray()),
            SendmailOptions.Parse(["a@example.com"]), Defaults, file);
        Assert.Equal(Sysexits.TempFail, r.ExitCode);
    }
}
