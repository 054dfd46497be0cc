using System.Text.RegularExpressions;

namespace EdgeMail.EndToEnd.Tests.Support;

public static partial class Queued
{
    // The one success reply after DATA (issue 2): "250 2.0.0 Ok: queued as <ID>".
    [GeneratedRegex(@"250[ -]2\.0\.0 Ok: queued as ([A-Za-z0-9._-]+)")]
    private static partial Regex QueuedReply();

    /// <summary>The queue ID from a transcript holding exactly one "250 2.0.0 Ok: queued as ID"; fails otherwise.</summary>
    public static string IdIn(string transcript)
    {
        var matches = QueuedReply().Matches(transcript);
        Assert.True(matches.Count == 1, $"expected one '250 2.0.0 Ok: queued as ID' reply, found {matches.Count} in:\n{transcript}");
        return matches[0].Groups[1].Value;
    }

    /// <summary>All queue IDs in a transcript, in order.</summary>
    public static IReadOnlyList<string> IdsIn(string transcript) =>
        QueuedReply().Matches(transcript).Select(m => m.Groups[1].Value).ToList();

    /// <summary>
    /// The listed size is the stored message: what the client sent (dot-unstuffed, CRLF line ends) with
    /// our Received: header prepended (RFC 5321 §4.4). That header names the queue ID and is one short
    /// trace header, so the difference is bounded both ways.
    /// </summary>
    public static void HasSizeOf(QueuedMessage entry, long sentBytes)
    {
        var minimum = sentBytes + "Received: ".Length + entry.Id.Length;
        var maximum = sentBytes + 1024;
        Assert.True(entry.Size >= minimum && entry.Size <= maximum,
            $"queue lists {entry.Id} with size {entry.Size}; the client sent {sentBytes} bytes, so expected " +
            $"{minimum}..{maximum} (message plus one Received: header)");
    }
}
