using System.Text;
using EdgeMail.Device.Local;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Device.Tests;

public sealed class MailQueueTests : IDisposable
{
    private readonly string _spool = Directory.CreateTempSubdirectory("edgemail-mailq-").FullName;
    private static readonly DateTimeOffset Arrived = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    public void Dispose() => Directory.Delete(_spool, recursive: true);

    private static string List(params QueueEntry[] entries)
    {
        var w = new StringWriter { NewLine = "\n" };
        MailQueueListing.Write(entries.Select(e => QueueItem.From(e)).ToList(), w, TimeZoneInfo.Utc);
        return w.ToString();
    }

    [Fact]
    public void An_empty_queue_says_so() => Assert.Equal("Mail queue is empty\n", List());

    [Fact]
    public void Each_message_shows_id_size_arrival_sender_last_error_and_pending_recipients()
    {
        var entry = new QueueEntry
        {
            Id = "4F2A9C01B3", Size = 2048, Held = true, LastError = "connect to mx.example.com: Connection refused",
            Envelope = new Envelope { Sender = "pi@edgepi.lan", Recipients = ["a@example.com", "b@example.com"], ClientAddress = "local", Arrived = Arrived },
            Recipients = [new("a@example.com", RecipientStatus.Pending, null), new("b@example.com", RecipientStatus.Delivered, "250 ok")],
        };
        Assert.Equal(
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n" +
            "4F2A9C01B3!     2048 Thu Jan 15 12:00:00  pi@edgepi.lan\n" +
            "(connect to mx.example.com: Connection refused)\n" +
            "                                         a@example.com\n" +
            "\n" +
            "-- 2 Kbytes in 1 Request.\n", List(entry));
    }

    [Fact]
    public async Task Edgemail_alert_composes_a_message_from_stdin_and_drops_it_into_the_spool()
    {
        var r = await AlertCommand.RunAsync(["ops@example.com"], "Backup fertig ✓", new MemoryStream("42 files\n"u8.ToArray()),
            "pi@edgepi.lan", "edgepi", _spool, new FakeClock());
        Assert.True(r.Ok, r.Error);
        using var spool = MessageSpool.Open(new SpoolOptions { Directory = _spool, MinFreeBytes = 0 });
        spool.ImportMaildrop();
        using var stored = spool.OpenMessage(r.QueueId!);
        var m = await MimeMessage.LoadAsync(stored);
        Assert.Equal("Backup fertig ✓", m.Subject);
        Assert.Equal("42 files", m.TextBody?.TrimEnd());
        Assert.Equal("LOCAL", spool.Get(r.QueueId!)!.Envelope.Protocol);
    }

    [Theory]
    [InlineData(Sysexits.Usage, "")]
    [InlineData(Sysexits.NoUser, "nobody")]
    public async Task Edgemail_alert_without_a_usable_recipient_fails_with_sysexits(int code, string to)
    {
        var r = await AlertCommand.RunAsync(to.Length == 0 ? [] : [to], "s", new MemoryStream(), "pi@edgepi.lan", "h", _spool);
        Assert.Equal(code, r.ExitCode);
    }

    [Fact]
    public async Task Edgemail_alert_refuses_a_body_that_is_not_text()
    {
        var r = await AlertCommand.RunAsync(["a@example.com"], "s", new MemoryStream([0xff, 0xfe, 0x00]), "pi@edgepi.lan", "h", _spool);
        Assert.Equal(Sysexits.DataErr, r.ExitCode);
    }
}
