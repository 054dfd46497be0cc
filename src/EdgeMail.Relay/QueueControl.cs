using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Relay;

/// <summary>The answer to one queue control command.</summary>
public sealed record QueueControlResult(bool Ok, bool ViaDaemon, string Message);

/// <summary>
/// <c>edgemail queue flush|delete ID|hold ID|release ID|status</c>: asks the running daemon over its control
/// socket; when no daemon answers, acts on the spool directly (flush then has nothing to do).
/// </summary>
public static class QueueControl
{
    public const string SocketName = "control.sock";

    public static Task<QueueControlResult> FlushAsync(string spoolDirectory, CancellationToken cancellationToken = default)
        => RunAsync(spoolDirectory, ControlCommand.Flush, null, cancellationToken);
    public static Task<QueueControlResult> DeleteAsync(string spoolDirectory, string id, CancellationToken cancellationToken = default)
        => RunAsync(spoolDirectory, ControlCommand.Delete, id, cancellationToken);
    public static Task<QueueControlResult> HoldAsync(string spoolDirectory, string id, CancellationToken cancellationToken = default)
        => RunAsync(spoolDirectory, ControlCommand.Hold, id, cancellationToken);
    public static Task<QueueControlResult> ReleaseAsync(string spoolDirectory, string id, CancellationToken cancellationToken = default)
        => RunAsync(spoolDirectory, ControlCommand.Release, id, cancellationToken);
    /// <summary>The queue as JSON (in <see cref="QueueControlResult.Message"/>).</summary>
    public static Task<QueueControlResult> StatusAsync(string spoolDirectory, CancellationToken cancellationToken = default)
        => RunAsync(spoolDirectory, ControlCommand.Status, null, cancellationToken);

    private static async Task<QueueControlResult> RunAsync(string dir, ControlCommand command, string? id, CancellationToken ct)
    {
        if (id is not null && !ControlProtocol.IsValidId(id)) return new QueueControlResult(false, false, $"invalid queue ID '{ControlProtocol.Printable(id)}'");
        var line = ControlProtocol.Verb(command) + (id is null ? "" : " " + id);
        var reply = await AskDaemonAsync(Path.Combine(dir, SocketName), line, ct).ConfigureAwait(false);
        if (reply is not null)
        {
            if (reply.StartsWith("OK", StringComparison.Ordinal)) return new QueueControlResult(true, true, reply.Length > 3 ? reply[3..] : "");
            if (reply.StartsWith("ERR", StringComparison.Ordinal)) return new QueueControlResult(false, true, reply.Length > 4 ? reply[4..] : "");
            return new QueueControlResult(false, true, "unexpected reply from the daemon");
        }

        try
        {
            using var spool = MessageSpool.Open(new SpoolOptions { Directory = dir });
            return OnSpool(spool, command, id);
        }
        catch (SpoolException e)
        {
            // E.g. a daemon owns the spool but its socket does not answer: refuse rather than fight over the queue.
            return new QueueControlResult(false, false, e.Message);
        }
    }

    private static QueueControlResult OnSpool(MessageSpool spool, ControlCommand command, string? id)
    {
        return command switch
        {
            ControlCommand.Flush => new QueueControlResult(true, false, "no daemon running; the queue is delivered when it starts"),
            ControlCommand.Delete => Answer(spool.Delete(id!), id!, "deleted"),
            ControlCommand.Hold => Answer(spool.Hold(id!), id!, "held"),
            ControlCommand.Release => Answer(spool.Release(id!), id!, "released"),
            _ => new QueueControlResult(true, false, JsonSerializer.Serialize(QueueStatus.From(spool.List(), daemon: false, 0), ControlJsonContext.Default.QueueStatus)),
        };
    }

    private static QueueControlResult Answer(bool ok, string id, string what)
        => new(ok, false, ok ? $"{id}: {what}" : $"{id}: no such message");

    /// <summary>One line out, one line back; null when no daemon listens (no socket, or nobody accepting).</summary>
    private static async Task<string?> AskDaemonAsync(string path, string line, CancellationToken ct)
    {
        if (!File.Exists(path)) return null;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable
                                            or SocketError.AddressFamilyNotSupported or SocketError.AccessDenied)
        {
            return null; // a stale socket file from a daemon that is gone
        }
        await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        return await ControlProtocol.ReadLineAsync(socket, ControlProtocol.MaxReplyBytes, timeout.Token).ConfigureAwait(false);
    }
}

public enum ControlCommand { Flush, Delete, Hold, Release, Status }

internal static class ControlProtocol
{
    public const int MaxRequestBytes = 256;
    public const int MaxReplyBytes = 4 << 20;

    // The protocol in one table: verb → command, whether it takes a queue ID.
    private static readonly (string Verb, ControlCommand Command, bool TakesId)[] Verbs =
    [
        ("FLUSH", ControlCommand.Flush, false),
        ("DELETE", ControlCommand.Delete, true),
        ("HOLD", ControlCommand.Hold, true),
        ("RELEASE", ControlCommand.Release, true),
        ("STATUS", ControlCommand.Status, false),
    ];

    public static string Verb(ControlCommand c) => Array.Find(Verbs, v => v.Command == c).Verb;

    public static bool TryParse(string line, out ControlCommand command, out string? id)
    {
        command = default;
        id = null;
        var space = line.IndexOf(' ');
        var verb = space < 0 ? line : line[..space];
        var arg = space < 0 ? null : line[(space + 1)..];
        foreach (var v in Verbs)
        {
            if (!string.Equals(v.Verb, verb, StringComparison.OrdinalIgnoreCase)) continue;
            if (v.TakesId != (arg is not null) || (arg is not null && !IsValidId(arg))) return false;
            (command, id) = (v.Command, arg);
            return true;
        }
        return false;
    }

    /// <summary>Queue IDs are checked before they go anywhere near a path.</summary>
    public static bool IsValidId(string id)
        => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static string Printable(string s) => new(s.Take(64).Select(c => c is >= ' ' and < '\x7f' ? c : '?').ToArray());

    public static async Task<string?> ReadLineAsync(Socket socket, int max, CancellationToken ct)
    {
        var buffer = new byte[Math.Min(max, 64 * 1024)];
        using var all = new MemoryStream();
        while (all.Length < max)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            var nl = Array.IndexOf(buffer, (byte)'\n', 0, n);
            all.Write(buffer, 0, nl < 0 ? n : nl);
            if (nl >= 0) return Encoding.UTF8.GetString(all.GetBuffer(), 0, (int)all.Length).TrimEnd('\r');
        }
        return all.Length == 0 ? null : Encoding.UTF8.GetString(all.GetBuffer(), 0, (int)all.Length).TrimEnd('\r');
    }
}

/// <summary>The daemon side: a Unix domain socket in the spool folder, owner-only, one command per connection.</summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly RelayService _relay;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    private ControlServer(string path, RelayService relay, ILogger log)
    {
        _path = path;
        _relay = relay;
        _log = log;
        // A socket file left by a daemon that died is in the way of bind(); nothing else lives under this name.
        if (File.Exists(path)) File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        // The spool folder is already owner-only; the socket is too, so only the daemon's user controls the queue.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(8);
        _accept = Task.Run(AcceptLoopAsync);
    }

    public static ControlServer Start(string path, RelayService relay, ILogger log) => new(path, relay, log);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            // One at a time: commands are tiny, and this bounds what a misbehaving local client can hold.
            using (client) await ServeAsync(client).ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var line = await ControlProtocol.ReadLineAsync(client, ControlProtocol.MaxRequestBytes, timeout.Token).ConfigureAwait(false);
            var reply = line is null ? "ERR empty command" : Execute(line);
            await client.SendAsync(Encoding.UTF8.GetBytes(reply + "\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    internal string Execute(string line)
    {
        if (!ControlProtocol.TryParse(line, out var command, out var id))
            return "ERR usage: FLUSH | DELETE id | HOLD id | RELEASE id | STATUS";
        _log.LogInformation("control: {Command}{Id}", ControlProtocol.Verb(command), id is null ? "" : " " + id);
        return command switch
        {
            ControlCommand.Flush => Ok(() => _relay.Flush(), "flushing"),
            ControlCommand.Delete => _relay.ControlDelete(id!) ? $"OK {id}: deleted" : $"ERR {id}: no such message",
            ControlCommand.Hold => _relay.ControlHold(id!) ? $"OK {id}: held" : $"ERR {id}: no such message",
            ControlCommand.Release => _relay.ControlRelease(id!) ? $"OK {id}: released" : $"ERR {id}: no such message",
            _ => "OK " + JsonSerializer.Serialize(_relay.Status(), ControlJsonContext.Default.QueueStatus),
        };
    }

    private static string Ok(Action action, string text)
    {
        action();
        return "OK " + text;
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

internal sealed class QueueStatus
{
    private const int MaxListed = 1000;

    public bool Daemon { get; init; }
    public int Total { get; init; }
    public int Held { get; init; }
    public int InFlight { get; init; }
    public List<QueueStatusEntry> Messages { get; init; } = [];

    public static QueueStatus From(IReadOnlyList<QueueEntry> entries, bool daemon, int inFlight) => new()
    {
        Daemon = daemon,
        Total = entries.Count,
        Held = entries.Count(e => e.Held),
        InFlight = inFlight,
        Messages = entries.Take(MaxListed).Select(e => new QueueStatusEntry
        {
            Id = e.Id,
            Sender = e.Envelope.Sender,
            Pending = e.Recipients.Where(r => r.Status == RecipientStatus.Pending).Select(r => r.Address).ToList(),
            Size = e.Size,
            Arrived = e.Envelope.Arrived,
            Attempts = e.Attempts,
            NextAttempt = e.NextAttempt,
            Held = e.Held,
            LastError = e.LastError,
        }).ToList(),
    };
}

internal sealed class QueueStatusEntry
{
    public required string Id { get; init; }
    public required string Sender { get; init; }
    public required List<string> Pending { get; init; }
    public long Size { get; init; }
    public DateTimeOffset Arrived { get; init; }
    public int Attempts { get; init; }
    public DateTimeOffset? NextAttempt { get; init; }
    public bool Held { get; init; }
    public string? LastError { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(QueueStatus))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
