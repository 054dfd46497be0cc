using System.Text;
using EdgeMail.Spool;

namespace EdgeMail.Tests.Verbs;

/// <summary>`edgemail alert --to ADDR --subject TEXT`, body on stdin: one call for scripts to raise an alert.</summary>
public sealed class AlertVerbTests : VerbHarness
{
    [Fact]
    public void An_alert_is_queued_for_every_to_with_an_RFC_2047_subject_and_its_queue_id_printed()
    {
        Assert.Equal(0, RunWithInput("The disk is 95 % full.\n",
            "alert", "--to", "ops@lan", "--to", "boss@lan", "--subject", "Température élevée", "--spool", SpoolDir));

        QueueEntry entry = Spooled().Single();
        Assert.Equal(entry.Id, Out.ToString().Trim());
        Assert.Equal(["ops@lan", "boss@lan"], entry.Envelope.Recipients);
        using MessageSpool spool = MessageSpool.Open(new SpoolOptions { Directory = SpoolDir });
        using var reader = new StreamReader(spool.OpenMessage(entry.Id), Encoding.UTF8);
        string message = reader.ReadToEnd();
        Assert.Matches(@"Subject: =\?utf-8\?[bBqQ]\?", message);
        Assert.Contains("95 % full", message);
    }

    [Fact]
    public void Without_to_the_alert_is_a_usage_error_64()
    {
        Assert.Equal(64, RunWithInput("x", "alert", "--subject", "s", "--spool", SpoolDir));
        Assert.Contains("--to", Err.ToString());
    }

    [Fact]
    public void Without_subject_the_alert_is_a_usage_error_64()
    {
        Assert.Equal(64, RunWithInput("x", "alert", "--to", "ops@lan", "--spool", SpoolDir));
        Assert.Contains("--subject", Err.ToString());
    }

    [Fact]
    public void A_to_that_is_not_an_address_is_EX_NOUSER_67()
    {
        Assert.Equal(67, RunWithInput("x", "alert", "--to", "ops", "--subject", "s", "--spool", SpoolDir));
        Assert.Contains("not a mail address", Err.ToString());
    }

    [Fact]
    public void The_sender_defaults_to_edgemail_at_the_configured_host()
    {
        string config = Path.Combine(Dir, "edgemail.toml");
        File.WriteAllText(config, $"[server]\nhostname = \"pi.lan\"\n\n[spool]\ndirectory = \"{SpoolDir}\"\n");

        Assert.Equal(0, RunWithInput("x", "alert", "--to", "ops@lan", "--subject", "s", "--config", config));

        Assert.Equal("edgemail@pi.lan", Spooled().Single().Envelope.Sender);
    }
}
