using System.Globalization;
using EdgeMail.Spool;

namespace EdgeMail.Device.Local;

/// <summary>
/// `mailq` / `sendmail -bp` output in the layout Postfix's mailq made familiar (scripts and people parse
/// it): ID with "!" when held, size, arrival time, sender; then each pending recipient with the last
/// error above it (for a drop not yet imported, that it waits in the maildrop); a total line at the end.
/// </summary>
public static class MailQueueListing
{
    public const string MaildropNote = "(waiting in maildrop for the daemon)";

    public static void Write(IReadOnlyList<QueueItem> entries, TextWriter output, TimeZoneInfo? zone = null)
    {
        zone ??= TimeZoneInfo.Local;
        if (entries.Count == 0)
        {
            output.WriteLine("Mail queue is empty");
            return;
        }
        output.WriteLine("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------");
        long total = 0;
        foreach (var e in entries)
        {
            total += e.Size;
            var arrived = TimeZoneInfo.ConvertTime(e.Arrived, zone)
                .ToString("ddd MMM dd HH:mm:ss", CultureInfo.InvariantCulture);
            var id = e.Id + (e.Held ? "!" : "");
            var sender = e.Sender.Length == 0 ? "MAILER-DAEMON" : e.Sender;
            output.WriteLine($"{id,-11} {e.Size,8} {arrived,-20} {sender}");
            if (e.Location == QueueListing.Maildrop)
                output.WriteLine(MaildropNote);
            else if (e.LastError is { Length: > 0 } error)
                output.WriteLine($"({OneLine(error)})");
            foreach (var r in e.RecipientStates)
                if (r.Status == "pending")
                    output.WriteLine($"{"",41}{r.Address}");
            output.WriteLine();
        }
        var kbytes = (total + 1023) / 1024;
        output.WriteLine($"-- {kbytes} Kbytes in {entries.Count} Request{(entries.Count == 1 ? "" : "s")}.");
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
