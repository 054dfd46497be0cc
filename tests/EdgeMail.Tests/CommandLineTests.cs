using System.Text.Json;
using EdgeMail.Cli;
using EdgeMail.Commands;
using EdgeMail.Spool;

namespace EdgeMail.Tests;

/// <summary>The verbs as a user meets them: exit codes (sysexits.h), messages, help.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-cli-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private int Run(params string[] args) => Program.Run(
        new CliContext { Out = _out, Error = _err, CurrentDirectory = _dir }, args);

    private string WriteConfig(string text)
    {
        string path = Path.Combine(_dir, "edgemail.toml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Version_prints_the_version_and_exits_0()
    {
        Assert.Equal(0, Run("--version"));
        Assert.Matches(@"^\d+\.\d+\.\d+", _out.ToString());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("serve", "--help")]
    [InlineData("queue", "--help")]
    public void Help_is_printed_for_the_program_and_every_verb(params string[] args)
    {
        Assert.Equal(0, Run(args));
        Assert.Contains("Usage:", _out.ToString());
    }

    [Fact]
    public void Serve_help_names_every_flag()
    {
        Run("serve", "--help");
        foreach (string flag in new[] { "--config", "--listen", "--spool", "--relay", "--mx-delivery", "--verbose" })
            Assert.Contains(flag, _out.ToString());
    }

    [Theory]
    [InlineData("--mx-delivery")]
    [InlineData("--mx-delivery", "maybe")]
    public void Mx_delivery_takes_true_or_false_else_it_is_a_usage_error(params string[] flag)
    {
        Assert.Equal(ExitCodes.Usage, Run(["serve", .. flag]));
        Assert.Contains("--mx-delivery", _err.ToString());
    }

    [Fact]
    public void An_unknown_verb_is_a_usage_error_64()
    {
        Assert.Equal(ExitCodes.Usage, Run("frobnicate"));
        Assert.Contains("frobnicate", _err.ToString());
    }

    [Fact]
    public void No_verb_is_a_usage_error_64()
    {
        Assert.Equal(ExitCodes.Usage, Run());
    }

    [Fact]
    public void A_bad_listen_flag_is_a_usage_error_naming_the_value()
    {
        Assert.Equal(ExitCodes.Usage, Run("serve", "--listen", "127.0.0.1"));
        Assert.Contains("--listen: \"127.0.0.1\" is not HOST:PORT", _err.ToString());
    }

    [Fact]
    public void A_bad_relay_flag_is_a_usage_error_naming_the_value()
    {
        Assert.Equal(ExitCodes.Usage, Run("serve", "--relay", "smtp://user:pw@mx.example.com"));
        Assert.Contains("credentials", _err.ToString());
    }

    [Fact]
    public void Serve_with_an_unknown_config_key_exits_78_naming_the_key_and_line()
    {
        string config = WriteConfig("[server]\nmax_recipients = 5\nnope = 1\n");

        Assert.Equal(ExitCodes.Config, Run("serve", "--config", config, "--listen", "127.0.0.1:0"));
        Assert.Contains($"{config}:3:1: server.nope: unknown key", _err.ToString());
        Assert.Equal("", _out.ToString());
    }

    [Fact]
    public void Serve_with_a_missing_config_file_exits_78()
    {
        Assert.Equal(ExitCodes.Config, Run("serve", "--config", Path.Combine(_dir, "missing.toml")));
        Assert.Contains("missing.toml", _err.ToString());
    }

    [Fact]
    public void Queue_with_a_bad_config_exits_78()
    {
        string config = WriteConfig("[spool]\nmax_size = \"lots\"\n");

        Assert.Equal(ExitCodes.Config, Run("queue", "--config", config));
        Assert.Contains("spool.max_size", _err.ToString());
    }

    [Fact]
    public void Queue_on_a_folder_that_does_not_exist_says_so_and_creates_nothing()
    {
        string spool = Path.Combine(_dir, "no-such-spool");

        Assert.Equal(ExitCodes.NoInput, Run("queue", "--spool", spool));
        Assert.Contains(spool, _err.ToString());
        Assert.False(Directory.Exists(spool));
    }

    [Fact]
    public void Mailq_and_sendmail_as_the_program_name_pick_those_verbs()
    {
        Assert.Equal(["mailq", "-v"], Personality.Rewrite("mailq", ["-v"]));
        Assert.Equal(["sendmail", "-t"], Personality.Rewrite("sendmail", ["-t"]));
        Assert.Equal(["serve"], Personality.Rewrite("edgemail", ["serve"]));
    }
}

/// <summary>What `edgemail queue` prints for a message.</summary>
public sealed class QueueListingTests
{
    private static readonly DateTimeOffset Arrived = new(2026, 11, 24, 1, 0, 0, TimeSpan.Zero);

    private static QueueEntry Entry(string sender = "app@lan", int attempts = 0, string? error = null, bool held = false) => new()
    {
        Id = "01JDXYZ",
        Envelope = new Envelope
        {
            Sender = sender,
            Recipients = ["a@example.com", "b@example.com"],
            ClientAddress = "192.0.2.7",
            Helo = "printer",
            Arrived = Arrived,
        },
        Size = 5120,
        Recipients = [new RecipientState("a@example.com", RecipientStatus.Pending, null), new RecipientState("b@example.com", RecipientStatus.Delivered, "250 ok")],
        Attempts = attempts,
        LastError = error,
        Held = held,
    };

    [Fact]
    public void A_line_has_id_size_age_sender_recipients_attempts_and_last_error()
    {
        string line = QueueCommand.FormatLine(QueueItem.From(Entry(attempts: 2, error: "451 4.3.0 try\r\nlater")), Arrived.AddMinutes(17));

        Assert.Equal("01JDXYZ  5120  17m  app@lan  -> a@example.com,b@example.com  attempts=2  last error: 451 4.3.0 try  later", line);
    }

    [Fact]
    public void The_null_sender_shows_as_angle_brackets_and_a_held_message_says_held()
    {
        Assert.Equal("01JDXYZ  5120  0s  <>  -> a@example.com,b@example.com  attempts=0  held",
            QueueCommand.FormatLine(QueueItem.From(Entry(sender: "", held: true)), Arrived));
    }

    [Theory]
    [InlineData(59, "59s")]
    [InlineData(60, "1m")]
    [InlineData(3599, "59m")]
    [InlineData(7200, "2h")]
    [InlineData(86400 * 3 + 5, "3d")]
    [InlineData(-5, "0s")]
    public void Age_is_shown_in_its_largest_whole_unit(int seconds, string text)
    {
        Assert.Equal(text, QueueCommand.FormatAge(TimeSpan.FromSeconds(seconds)));
    }

    [Fact]
    public void Json_has_id_sender_recipients_size_and_arrived_in_ISO_8601()
    {
        string json = JsonSerializer.Serialize(new List<QueueItem> { QueueItem.From(Entry(attempts: 1, error: "x")) },
            QueueJsonContext.Default.ListQueueItem);
        JsonElement item = JsonDocument.Parse(json).RootElement[0];

        Assert.Equal("01JDXYZ", item.GetProperty("id").GetString());
        Assert.Equal("app@lan", item.GetProperty("sender").GetString());
        Assert.Equal(["a@example.com", "b@example.com"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(5120, item.GetProperty("size").GetInt64());
        Assert.Equal(Arrived, DateTimeOffset.Parse(item.GetProperty("arrived").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, item.GetProperty("attempts").GetInt32());
        Assert.Equal("x", item.GetProperty("last_error").GetString());
        Assert.Equal("delivered", item.GetProperty("recipient_states")[1].GetProperty("status").GetString());
    }
}
