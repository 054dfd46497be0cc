using System.Net;
using System.Text;
using EdgeMail.Smtp.Server;
using EdgeMail.Spool;

namespace EdgeMail.Smtp.Tests.Support;

/// <summary>
/// A session under test with its own spool in a temporary folder, driven by "C: / S:" scripts:
///   C: text   the client sends text + CRLF
///   R: text   the client sends raw text with \r \n \0 \t \\ escapes and nothing appended
///   S: text   the server's next reply line; a trailing * matches any rest of the line
/// The client's bytes are all sent up front (a maximally pipelining client), then the client half-closes; the
/// server reads them whole, line by line or byte by byte (<see cref="Feed"/>) and its replies must match in order.
/// </summary>
public sealed class SmtpScript : IDisposable
{
    public static readonly IPEndPoint Client = new(IPAddress.Parse("192.0.2.10"), 40000);

    public SmtpScript(Action<SmtpServerOptions>? configure = null, SpoolOptions? spoolOptions = null, ISpoolFileSystem? fileSystem = null)
    {
        Folder = Path.Combine(Path.GetTempPath(), "edgemail-smtpd-" + Guid.NewGuid().ToString("N"));
        Options = new SmtpServerOptions { HostName = "mx.test" };
        configure?.Invoke(Options);
        var so = spoolOptions ?? new SpoolOptions { Directory = Folder, MinFreeBytes = 0 };
        Spool = fileSystem is null ? MessageSpool.Open(so, null) : MessageSpool.Open(so, null, fileSystem);
    }

    public string Folder { get; }
    public SmtpServerOptions Options { get; }
    public MessageSpool Spool { get; }
    public ListLogger Log { get; } = new();

    /// <summary>The client's address as the session sees it (relay policy, limits); <see cref="Client"/> unless a test says otherwise.</summary>
    public IPEndPoint Remote { get; set; } = Client;

    /// <summary>Where <see cref="Feed.Random"/> cuts the client's bytes (the same seed, the same cuts).</summary>
    public int CutSeed { get; set; } = 5321;

    public SmtpSession NewSession(Stream transport) => new(transport, Remote, Options, Spool, Log);

    /// <summary>Runs <paramref name="script"/> and returns the server's reply lines.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(string script, Feed feed, CancellationToken shutdown = default)
    {
        var (client, expected) = Parse(script);
        var pipe = new DuplexPipe(feed, CutSeed);
        var session = NewSession(pipe.Server);
        await pipe.SendAsync(client);
        pipe.CloseClient();
        var run = session.RunAsync(shutdown);
        string output = await pipe.ReadAllAsync();
        await run;
        var actual = output.Split("\r\n");
        Assert.True(actual[^1].Length == 0, "server output must end with CRLF: " + output);
        actual = actual[..^1];
        Match(expected, actual, feed);
        return actual;
    }

    public static void Match(IReadOnlyList<string> expected, IReadOnlyList<string> actual, Feed feed)
    {
        bool ok = expected.Count == actual.Count;
        for (int i = 0; ok && i < expected.Count; i++)
        {
            var e = expected[i];
            ok = e.EndsWith('*') ? actual[i].StartsWith(e[..^1], StringComparison.Ordinal) : actual[i] == e;
        }
        if (!ok)
        {
            Assert.Fail($"Fed {feed}; expected:\n  S: {string.Join("\n  S: ", expected)}\nbut the server said:\n  S: {string.Join("\n  S: ", actual)}");
        }
    }

    public static (byte[] Client, List<string> Expected) Parse(string script)
    {
        var client = new MemoryStream();
        var expected = new List<string>();
        foreach (var raw in script.Split('\n'))
        {
            var line = raw.TrimEnd('\r').TrimStart();
            if (line.StartsWith("C: ", StringComparison.Ordinal) || line == "C:")
            {
                var bytes = Encoding.UTF8.GetBytes((line.Length > 3 ? line[3..] : "") + "\r\n");
                client.Write(bytes);
            }
            else if (line.StartsWith("R: ", StringComparison.Ordinal))
            {
                client.Write(Encoding.UTF8.GetBytes(Unescape(line[3..])));
            }
            else if (line.StartsWith("S: ", StringComparison.Ordinal))
            {
                expected.Add(line[3..]);
            }
            else if (line.Length != 0 && !line.StartsWith('#'))
            {
                throw new FormatException("script line must start with C:, R: or S: — " + line);
            }
        }
        return (client.ToArray(), expected);
    }

    public static string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i + 1 == s.Length)
            {
                sb.Append(s[i]);
                continue;
            }
            char c = s[++i];
            sb.Append(c switch { 'r' => '\r', 'n' => '\n', '0' => '\0', 't' => '\t', _ => c });
        }
        return sb.ToString();
    }

    /// <summary>The queue ID from a "250 2.0.0 Ok: queued as ID" line.</summary>
    public static string QueueIdFrom(IReadOnlyList<string> lines)
        => lines.Last(l => l.StartsWith("250 2.0.0 Ok: queued as ", StringComparison.Ordinal))["250 2.0.0 Ok: queued as ".Length..];

    public string MessageText(string id)
    {
        using var stream = Spool.OpenMessage(id);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        Spool.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public static class Feeds
{
    public static TheoryData<Feed> All => new() { Feed.Whole, Feed.Lines, Feed.Bytes, Feed.Random };
}
