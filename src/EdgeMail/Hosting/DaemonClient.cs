using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeMail.Commands;
using EdgeMail.Spool;

namespace EdgeMail.Hosting;

/// <summary>The answer to one queue control command.</summary>
public sealed record QueueControlResult(bool Ok, bool ViaDaemon, string Message);

/// <summary>
/// Every verb's way to the daemon: one request over <c>edgemail.sock</c> (<see cref="DaemonProtocol"/>). When no daemon
/// answers, the verbs work on the spool themselves, as they always have: flush, delete, hold and release through the
/// spool (which they then own for a moment), the listings by reading its files without changing anything.
/// </summary>
public static class DaemonClient
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<QueueControlResult> ControlAsync(string spoolDirectory, DaemonVerb verb, string? id,
        CancellationToken cancellationToken = default)
    {
        if (id is not null && !DaemonProtocol.IsValidId(id))
            return new QueueControlResult(false, false, $"invalid queue ID '{DaemonProtocol.Printable(id)}'");
        if (await AskAsync(spoolDirectory, verb, id, cancellationToken).ConfigureAwait(false) is { } reply)
            return new QueueControlResult(reply.Ok, true, reply.Text);
        try
        {
            using var spool = MessageSpool.Open(new SpoolOptions { Directory = spoolDirectory });
            return verb switch
            {
                DaemonVerb.Delete => Done(spool.Delete(id!), id!, "deleted"),
                DaemonVerb.Hold => Done(spool.Hold(id!), id!, "held"),
                DaemonVerb.Release => Done(spool.Release(id!), id!, "released"),
                _ => new QueueControlResult(true, false, "no daemon running; the queue is delivered when it starts"),
            };
        }
        catch (SpoolException e)
        {
            // E.g. a daemon owns the spool but its socket does not answer: refuse rather than fight over the queue.
            return new QueueControlResult(false, false, e.Message);
        }
    }

    private static QueueControlResult Done(bool ok, string id, string done) => new(ok, false, DaemonProtocol.Outcome(ok, id, done));

    /// <summary>What `queue` and `mailq` list: the daemon's view (queue, hold, and drops it has not imported yet), or
    /// the same read from the files when no daemon answers.</summary>
    public static async Task<List<QueueItem>> ListAsync(string spoolDirectory, CancellationToken cancellationToken = default)
    {
        if (await AskAsync(spoolDirectory, DaemonVerb.List, null, cancellationToken).ConfigureAwait(false) is { Ok: true } reply
            && Parse(reply.Body, QueueJsonContext.Default.ListQueueItem) is { } items)
            return items;
        return QueueListing.ReadFromDisk(spoolDirectory);
    }

    /// <summary>The running daemon's status report; null when none answers.</summary>
    public static async Task<StatusReport?> StatusAsync(string spoolDirectory, CancellationToken cancellationToken = default)
        => await AskAsync(spoolDirectory, DaemonVerb.Status, null, cancellationToken).ConfigureAwait(false) is { Ok: true } reply
            ? Parse(reply.Body, StatusJsonContext.Default.StatusReport)
            : null;

    private static T? Parse<T>(ReadOnlyMemory<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try { return JsonSerializer.Deserialize(json.Span, type); }
        catch (JsonException) { return null; }
    }

    /// <summary>One daemon reply: the status line's verdict and text, and the document after it (LIST, STATUS).</summary>
    internal sealed class Answer(bool ok, string text, byte[] reply, int bodyStart)
    {
        public bool Ok => ok;
        public string Text => text;
        public ReadOnlyMemory<byte> Body => reply.AsMemory(bodyStart);
    }

    /// <summary>One request, one reply. Null when no daemon answers: no socket, a stale socket file of a daemon that is
    /// gone, no reply in time, or a reply cut short or larger than <see cref="DaemonProtocol.MaxReplyBytes"/>.</summary>
    internal static async Task<Answer?> AskAsync(string spoolDirectory, DaemonVerb verb, string? id,
        CancellationToken cancellationToken)
    {
        string path = Path.Combine(spoolDirectory, DaemonProtocol.SocketName);
        if (!File.Exists(path)) return null;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        byte[]? reply;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            await socket.SendAsync(Encoding.UTF8.GetBytes(DaemonProtocol.Request(verb, id)), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            reply = await DaemonProtocol.ReadAllAsync(socket, DaemonProtocol.MaxReplyBytes, untilNewline: false, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
        int newline = reply is null ? -1 : Array.IndexOf(reply, (byte)'\n');
        if (newline < 0) return null;
        string line = Encoding.UTF8.GetString(reply!, 0, newline);
        bool ok = line.StartsWith("OK", StringComparison.Ordinal);
        string text = ok ? line[2..].TrimStart()
            : line.StartsWith("ERR", StringComparison.Ordinal) ? line[3..].TrimStart()
            : "unexpected reply from the daemon";
        return new Answer(ok, text, reply!, newline + 1);
    }
}
