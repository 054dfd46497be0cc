using System.Text;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Spool.Tests.Support;

/// <summary>A fresh spool folder under the system temp directory (a real file system, real fsync).</summary>
public sealed class TempSpoolDirectory : IDisposable
{
    public TempSpoolDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgemail-spool-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string folder) => System.IO.Path.Combine(Path, folder);

    public string[] Files(string folder)
    {
        string dir = Sub(folder);
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir).Select(f => System.IO.Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray()
            : [];
    }

    public SpoolOptions Options(long maxSpoolBytes = 0, long minFreeBytes = 0)
        => new() { Directory = Path, MaxSpoolBytes = maxSpoolBytes, MinFreeBytes = minFreeBytes };

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Collects log lines so tests can check that recovery says what it did.</summary>
public sealed class ListLogger : ILogger
{
    private readonly List<string> _lines = new();

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return _lines.ToArray(); }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
            _lines.Add($"{logLevel}: {formatter(state, exception)}");
    }
}

public static class Mail
{
    public static Envelope Envelope(params string[] recipients) => new()
    {
        Sender = "sensor@lab.example",
        Recipients = recipients.Length == 0 ? ["ops@example.net"] : recipients,
        ClientAddress = "192.0.2.7",
        Helo = "thermo-1.lab.example",
        Protocol = "ESMTP",
    };

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    public static byte[] Message(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Writes, commits and returns the queue ID.</summary>
    public static async Task<string> QueueAsync(MessageSpool spool, byte[] message, Envelope? envelope = null)
    {
        await using SpoolWriter writer = spool.Create(envelope ?? Envelope());
        await writer.WriteAsync(message);
        await writer.CommitAsync();
        return writer.QueueId;
    }

    public static byte[] ReadAll(MessageSpool spool, string id)
    {
        using Stream stream = spool.OpenMessage(id);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
