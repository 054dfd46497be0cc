using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeMail.Commands;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Hosting;

public enum DaemonVerb { Flush, Delete, Hold, Release, List, Status }

/// <summary>
/// The daemon's one socket, <c>edgemail.sock</c> in the spool folder (owner-only, as the spool is), and its protocol.
/// A client connects and sends one request line, <c>VERB [ID]\n</c> (at most <see cref="MaxRequestBytes"/>); the
/// daemon answers <c>OK [text]</c> or <c>ERR text</c> on one line, for LIST and STATUS followed by one JSON document
/// (what `queue --json` and `status --json` print), and closes. One request per connection, one connection at a time.
/// </summary>
internal static class DaemonProtocol
{
    public const string SocketName = "edgemail.sock";
    public const int MaxRequestBytes = 256;
    /// <summary>The client's bound on a reply: a LIST of thousands of messages with many recipients each.</summary>
    public const int MaxReplyBytes = 64 << 20;

    // The protocol in one table: verb, its request word, whether it takes a queue ID.
    private static readonly (DaemonVerb Verb, string Word, bool TakesId)[] Verbs =
    [
        (DaemonVerb.Flush, "FLUSH", false),
        (DaemonVerb.Delete, "DELETE", true),
        (DaemonVerb.Hold, "HOLD", true),
        (DaemonVerb.Release, "RELEASE", true),
        (DaemonVerb.List, "LIST", false),
        (DaemonVerb.Status, "STATUS", false),
    ];

    public const string Usage = "usage: FLUSH | DELETE id | HOLD id | RELEASE id | LIST | STATUS";

    public static string Word(DaemonVerb verb)
    {
        foreach (var v in Verbs)
            if (v.Verb == verb) return v.Word;
        throw new ArgumentOutOfRangeException(nameof(verb));
    }

    public static string Request(DaemonVerb verb, string? id) => Word(verb) + (id is null ? "" : " " + id) + "\n";

    public static bool TryParse(string line, out DaemonVerb verb, out string? id)
    {
        verb = default;
        id = null;
        int space = line.IndexOf(' ');
        string word = space < 0 ? line : line[..space];
        string? arg = space < 0 ? null : line[(space + 1)..];
        foreach (var v in Verbs)
        {
            if (!string.Equals(v.Word, word, StringComparison.OrdinalIgnoreCase)) continue;
            if (v.TakesId != (arg is not null) || (arg is not null && !IsValidId(arg))) return false;
            (verb, id) = (v.Verb, arg);
            return true;
        }
        return false;
    }

    /// <summary>Queue IDs are checked before they go anywhere near a path.</summary>
    public static bool IsValidId(string id)
    {
        if (id.Length is 0 or > 64) return false;
        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_')) return false;
        }
        return true;
    }

    public static string Printable(string s)
    {
        var text = new StringBuilder(Math.Min(s.Length, 64));
        for (int i = 0; i < s.Length && i < 64; i++) text.Append(s[i] is >= ' ' and < '\x7f' ? s[i] : '?');
        return text.ToString();
    }

    /// <summary>The answer to DELETE, HOLD or RELEASE, the same from the daemon and from the spool directly.</summary>
    public static string Outcome(bool ok, string id, string done) => ok ? $"{id}: {done}" : $"{id}: no such message";

    /// <summary>Reads until end of stream (a reply) or the end of the first line (a request); null when more than
    /// <paramref name="max"/> bytes came. An overlong request is still read to its newline (up to 64 KiB, and within the
    /// caller's time limit) and dropped, so that its sender gets the refusal instead of a reset connection.</summary>
    public static async Task<byte[]?> ReadAllAsync(Socket socket, int max, bool untilNewline, CancellationToken ct)
    {
        var buffer = new byte[Math.Min(max + 1, 64 * 1024)];
        using var all = new MemoryStream();
        long total = 0;
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
            if (all.Length <= max) all.Write(buffer, 0, n);
            if (untilNewline ? Array.IndexOf(buffer, (byte)'\n', 0, n) >= 0 || total > 64 * 1024 : all.Length > max) break;
        }
        return all.Length > max ? null : all.ToArray();
    }
}

/// <summary>What the daemon answers: a status line, and for LIST or STATUS the document that follows it.</summary>
internal sealed class DaemonReply(bool ok, string text, List<QueueItem>? messages = null, StatusReport? status = null)
{
    public bool Ok => ok;
    public string Text => text;
    public List<QueueItem>? Messages => messages;
    public StatusReport? Status => status;
}

/// <summary>The daemon side of <see cref="DaemonProtocol"/>: binds the socket, answers one client at a time.</summary>
internal sealed class DaemonSocketServer : IAsyncDisposable
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<DaemonVerb, string?, DaemonReply> _handler;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public DaemonSocketServer(string spoolDirectory, Func<DaemonVerb, string?, DaemonReply> handler, ILogger log)
    {
        _path = Path.Combine(spoolDirectory, DaemonProtocol.SocketName);
        _handler = handler;
        _log = log;
        // Only the spool's owner (the one daemon: it holds the spool lock) gets here, so a file in the way is a
        // socket left by a daemon that died.
        try { File.Delete(_path); } catch (IOException) { }
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(_path));
            // Owner-only: only the daemon's user (and root) may control the queue or read its status.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _listener.Listen(8);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        _accept = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            // One at a time: requests are small and quick, and this bounds what a misbehaving local client can hold.
            using (client) await ServeAsync(client).ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ClientTimeout);
        try
        {
            byte[]? request = await DaemonProtocol.ReadAllAsync(client, DaemonProtocol.MaxRequestBytes, untilNewline: true, timeout.Token)
                .ConfigureAwait(false);
            DaemonReply reply = request is null ? new DaemonReply(false, $"request longer than {DaemonProtocol.MaxRequestBytes} bytes")
                : Execute(Encoding.UTF8.GetString(request).TrimEnd('\n').TrimEnd('\r'));
            await using var stream = new NetworkStream(client, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes((reply.Ok ? "OK" : "ERR") + (reply.Text.Length > 0 ? " " + reply.Text.ReplaceLineEndings(" ") : "") + "\n"), timeout.Token)
                .ConfigureAwait(false);
            // Streamed in chunks, not built as one string: a long queue listing must not become a spike in the daemon's
            // memory. Synchronous on purpose, bounded by the send timeout: SerializeAsync compiles an async state
            // machine per JSON value type (~60 KB of the binary's 10 MiB budget) for an administrator's occasional request.
            client.SendTimeout = (int)ClientTimeout.TotalMilliseconds;
            if (reply.Messages is not null)
                JsonSerializer.Serialize(stream, reply.Messages, QueueJsonContext.Default.ListQueueItem);
            else if (reply.Status is not null)
                JsonSerializer.Serialize(stream, reply.Status, StatusJsonContext.Default.StatusReport);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    internal DaemonReply Execute(string line)
    {
        if (!DaemonProtocol.TryParse(line, out DaemonVerb verb, out string? id))
            return new DaemonReply(false, DaemonProtocol.Usage);
        // The verbs that change something are in the log, with who-did-what left to the socket's permissions.
        if (verb is not (DaemonVerb.List or DaemonVerb.Status))
            _log.LogInformation("control: {Command}{Id}", DaemonProtocol.Word(verb), id is null ? "" : " " + id);
        try
        {
            return _handler(verb, id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException or KeyNotFoundException)
        {
            _log.LogWarning("control: {Command} failed: {Error}", DaemonProtocol.Word(verb), e.Message);
            return new DaemonReply(false, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accept.ConfigureAwait(false);
        try { File.Delete(_path); } catch (IOException) { }
        _stop.Dispose();
    }
}
