using EdgeMail.Device.Alerts;
using EdgeMail.Device.Local;
using EdgeMail.Spool;

namespace EdgeMail.Device.Tests;

public sealed class LocalSubmissionTests : IDisposable
{
    private readonly string _spool = Directory.CreateTempSubdirectory("edgemail-local-").FullName;

    public void Dispose() => Directory.Delete(_spool, recursive: true);

    private static readonly DateTimeOffset Now = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private static byte[] Stored(MessageSpool spool, string id)
    {
        using var s = spool.OpenMessage(id);
        var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    [Fact]
    public async Task An_alert_submitted_to_the_open_spool_is_queued_durably_as_local_mail()
    {
        using var spool = MessageSpool.Open(new SpoolOptions { Directory = _spool, MinFreeBytes = 0 });
        var message = AlertMail.Compose("pi@example.com", ["ops@example.com"], "hot", "82 °C", "edgepi", Now);
        var id = await new SpoolAlertSink(spool).SubmitAsync(AlertMail.EnvelopeFor("pi@example.com", ["ops@example.com"], Now), message, default);

        var entry = spool.Get(id)!;
        Assert.Equal("LOCAL", entry.Envelope.Protocol);
        Assert.Equal("local", entry.Envelope.ClientAddress);
        Assert.Equal(LocalSubmission.ToBytes(message), Stored(spool, id));
    }

    [Fact]
    public async Task Without_a_daemon_the_message_waits_in_the_maildrop_and_is_queued_at_the_next_start()
    {
        var message = AlertMail.Compose("pi@example.com", ["ops@example.com"], "cron", "done", "edgepi", Now);
        var id = await LocalSubmission.DropAsync(_spool, AlertMail.EnvelopeFor("pi@example.com", ["ops@example.com"], Now), message);
        Assert.True(File.Exists(Path.Combine(_spool, "maildrop", id)));

        using var spool = MessageSpool.Open(new SpoolOptions { Directory = _spool, MinFreeBytes = 0 });
        spool.ImportMaildrop();
        Assert.Equal(LocalSubmission.ToBytes(message), Stored(spool, id));
    }

    [Fact]
    public void Messages_are_written_with_crlf_line_ends()
    {
        var bytes = LocalSubmission.ToBytes(AlertMail.Compose("a@example.com", ["b@example.com"], "s", "one\ntwo\n", "h", Now));
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] == (byte)'\n')
                Assert.Equal((byte)'\r', bytes[i - 1]);
    }
}
