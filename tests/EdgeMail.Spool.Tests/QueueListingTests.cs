using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>What `queue` and `mailq` list from the files alone: the queue, held messages and the drops in maildrop/
/// that no daemon has imported yet — read without importing, locking or writing anything.</summary>
public class QueueListingTests
{
    private static Envelope LocalEnvelope(string sender = "cron@pi.local") => new()
    {
        Sender = sender,
        Recipients = ["admin@example.net", "ops@example.net"],
        ClientAddress = "local",
        Protocol = "LOCAL",
    };

    private static async Task<string> DropAsync(string spool, string text, string sender = "cron@pi.local")
    {
        await using SpoolWriter drop = MessageSpool.CreateDrop(spool, LocalEnvelope(sender));
        await drop.WriteAsync(Mail.Bytes(text));
        await drop.CommitAsync();
        return drop.QueueId;
    }

    [Fact]
    public async Task A_drop_is_listed_with_its_envelope_and_size_and_stays_in_the_maildrop()
    {
        using var dir = new TempSpoolDirectory();
        string id = await DropAsync(dir.Path, "Subject: cron\r\n\r\ndisk 91%\r\n");

        QueueEntry drop = Assert.Single(QueueListing.ReadMaildrop(dir.Path));

        Assert.Equal(id, drop.Id);
        Assert.Equal("cron@pi.local", drop.Envelope.Sender);
        Assert.Equal(Mail.Bytes("Subject: cron\r\n\r\ndisk 91%\r\n").Length, drop.Size);
        Assert.Equal(["admin@example.net", "ops@example.net"], drop.Recipients.Select(r => r.Address));
        Assert.All(drop.Recipients, r => Assert.Equal(RecipientStatus.Pending, r.Status));
        Assert.Equal([id], dir.Files("maildrop"));                       // not imported
        Assert.False(File.Exists(Path.Combine(dir.Path, "lock")));      // the spool was not opened
    }

    [Fact]
    public async Task A_drop_still_being_written_and_a_damaged_file_are_not_listed()
    {
        using var dir = new TempSpoolDirectory();
        string good = await DropAsync(dir.Path, "ok");
        await using SpoolWriter unfinished = MessageSpool.CreateDrop(dir.Path, LocalEnvelope());
        await unfinished.WriteAsync(Mail.Bytes("still typing"));
        File.WriteAllText(Path.Combine(dir.Sub("maildrop"), QueueId.New()), "garbage");
        File.WriteAllText(Path.Combine(dir.Sub("maildrop"), "not-an-id"), "x");

        Assert.Equal([good], QueueListing.ReadMaildrop(dir.Path).Select(e => e.Id));
    }

    [Fact]
    public async Task The_listing_from_disk_has_queued_held_and_dropped_messages_in_arrival_order_each_with_its_location()
    {
        using var dir = new TempSpoolDirectory();
        string queued, held;
        using (MessageSpool spool = MessageSpool.Open(dir.Options()))
        {
            queued = await Mail.QueueAsync(spool, Mail.Bytes("one"));
            held = await Mail.QueueAsync(spool, Mail.Bytes("two"));
            Assert.True(spool.Hold(held));
        }
        string dropped = await DropAsync(dir.Path, "three", sender: "");

        List<QueueItem> items = QueueListing.ReadFromDisk(dir.Path);

        Assert.Equal([queued, held, dropped], items.Select(i => i.Id));
        Assert.Equal([QueueListing.Queue, QueueListing.Hold, QueueListing.Maildrop], items.Select(i => i.Location));
        Assert.Equal("", items[2].Sender);
        Assert.Equal(["pending", "pending"], items[2].RecipientStates.Select(r => r.Status));
    }

    [Fact]
    public async Task A_drop_imported_while_the_listing_was_read_is_listed_once_as_queued()
    {
        using var dir = new TempSpoolDirectory();
        string id = await DropAsync(dir.Path, "moving");
        IReadOnlyList<QueueEntry> drops = QueueListing.ReadMaildrop(dir.Path);
        using MessageSpool spool = MessageSpool.Open(dir.Options());   // imports it

        QueueItem item = Assert.Single(QueueListing.Merge(spool.List(), drops));

        Assert.Equal(id, item.Id);
        Assert.Equal(QueueListing.Queue, item.Location);
    }
}
