using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// One message as `edgemail queue --json`, `mailq` and the daemon socket's LIST show it. The contract: id, sender,
/// recipients, size, arrived (ISO 8601); <see cref="Location"/> says where the file is: "queue", "hold", or
/// "maildrop" (dropped by sendmail or alert and not yet imported by the daemon).
/// </summary>
public sealed record QueueItem(
    string Id,
    string Sender,
    IReadOnlyList<string> Recipients,
    long Size,
    DateTimeOffset Arrived,
    int Attempts,
    string? LastError,
    DateTimeOffset? NextAttempt,
    bool Held,
    IReadOnlyList<QueueRecipient> RecipientStates,
    string ClientAddress,
    string Helo,
    string Location)
{
    public static QueueItem From(QueueEntry e, string? location = null)
    {
        var states = new List<QueueRecipient>(e.Recipients.Count);
        foreach (RecipientState r in e.Recipients)
        {
            states.Add(new QueueRecipient(r.Address, r.Status switch
            {
                RecipientStatus.Delivered => "delivered",
                RecipientStatus.Failed => "failed",
                _ => "pending",
            }, r.LastReply));
        }
        return new QueueItem(e.Id, e.Envelope.Sender, e.Envelope.Recipients, e.Size, e.Envelope.Arrived.ToUniversalTime(),
            e.Attempts, e.LastError, e.NextAttempt?.ToUniversalTime(), e.Held, states, e.Envelope.ClientAddress, e.Envelope.Helo,
            location ?? (e.Held ? QueueListing.Hold : QueueListing.Queue));
    }
}

public sealed record QueueRecipient(string Address, string Status, string? LastReply);

/// <summary>
/// What is waiting in a spool, for the listings: the queue (and hold) plus the drops in maildrop/ that no daemon has
/// imported yet. Reading the maildrop never imports, locks or writes anything: `queue` and `mailq` must be able to
/// show a message that `sendmail` dropped while the daemon was stopped, without taking the daemon's place.
/// </summary>
public static class QueueListing
{
    public const string Queue = "queue";
    public const string Hold = "hold";
    public const string Maildrop = "maildrop";

    /// <summary>The committed drops in maildrop/ (not maildrop/tmp/, where a sendmail is still writing), oldest
    /// first, every recipient pending. A file that does not validate is left out here; the daemon's import moves
    /// it to corrupt/ and says so in its log.</summary>
    public static IReadOnlyList<QueueEntry> ReadMaildrop(string spoolDirectory)
    {
        var drops = new List<QueueEntry>();
        string folder = Path.Combine(Path.GetFullPath(spoolDirectory), "maildrop");
        if (!Directory.Exists(folder))
            return drops;
        foreach (string name in OsSpoolFileSystem.Instance.ListFiles(folder))
        {
            if (QueueId.IsValid(name) && TryReadDrop(Path.Combine(folder, name), name) is { } drop)
                drops.Add(drop);
        }
        drops.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id)); // IDs sort by arrival time
        return drops;
    }

    /// <summary>The queue and the maildrop as the listings show them, from the files alone (no daemon needed, nothing
    /// changed). The maildrop is read first: a drop imported in between is then seen twice and listed once, as
    /// queued, instead of not at all.</summary>
    public static List<QueueItem> ReadFromDisk(string spoolDirectory)
    {
        IReadOnlyList<QueueEntry> drops = ReadMaildrop(spoolDirectory);
        return Merge(MessageSpool.ReadQueue(spoolDirectory), drops);
    }

    /// <summary>Queued messages and drops in one list by queue ID (= arrival order); a drop whose ID is already queued
    /// (imported after the maildrop was read) is listed once, as queued.</summary>
    public static List<QueueItem> Merge(IReadOnlyList<QueueEntry> queued, IReadOnlyList<QueueEntry> drops)
    {
        var items = new List<QueueItem>(queued.Count + drops.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (QueueEntry e in queued)
        {
            ids.Add(e.Id);
            items.Add(QueueItem.From(e));
        }
        foreach (QueueEntry d in drops)
        {
            if (!ids.Contains(d.Id))
                items.Add(QueueItem.From(d, Maildrop));
        }
        items.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return items;
    }

    private static QueueEntry? TryReadDrop(string path, string name)
    {
        try
        {
            using SafeFileHandle file = OsSpoolFileSystem.Instance.OpenRead(path);
            // The same header and trailer checks the queue's own listing makes; the checksum is the import's job.
            if (QueueFile.TryRead(file, verifyChecksum: false, out _) is not { } info || info.Id != name)
                return null;
            return new QueueEntry
            {
                Id = info.Id, Envelope = info.Envelope, Size = info.MessageLength,
                Recipients = MessageSpool.InitialRecipients(info.Envelope),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // imported (moved away) while we looked, or a drop this user may not read
        }
    }
}
