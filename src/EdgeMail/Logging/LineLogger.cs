using System.Buffers;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Logging;

/// <summary>
/// Where log lines go and how they look; one per process, shared by every category's logger.
/// One event = one line on stderr. Under systemd (JOURNAL_STREAM set) a line is
/// "&lt;6&gt;smtpd: text": journald reads the sd-daemon(3) priority prefix and stamps time and host
/// itself. Elsewhere a line is "2026-11-24T01:02:03.456Z info smtpd: text".
/// Never message bodies, never secrets: that is the callers' rule; this sink only keeps each event
/// on one line (CR, LF and other control characters are escaped, so a hostile HELO cannot forge lines).
/// </summary>
public sealed class LogSink
{
    private readonly TextWriter _writer;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();

    public LogSink(TextWriter writer, LogLevel minimumLevel, bool journald, TimeProvider? time = null)
    {
        _writer = writer;
        MinimumLevel = minimumLevel;
        Journald = journald;
        _time = time ?? TimeProvider.System;
    }

    public LogLevel MinimumLevel { get; }
    public bool Journald { get; }

    /// <summary>journald connects a service's stderr to itself and says so in JOURNAL_STREAM (systemd.exec(5)).</summary>
    public static bool IsJournald(string? journalStream) => !string.IsNullOrEmpty(journalStream);

    /// <param name="category">a short daemon-style name: "smtpd", "spool", "relay", "edgemail".</param>
    public ILogger CreateLogger(string category) => new LineLogger(this, category);

    internal void Write(LogLevel level, string category, string message, Exception? exception)
    {
        // Three lines per accepted message under load: the line is built in one char buffer the sink keeps (under
        // the lock that already serialises the writes) instead of a StringBuilder, its chunks, a timestamp string
        // and the final string per line. Only the formatted message itself is still allocated (by the caller).
        lock (_lock)
        {
            _length = 0;
            if (Journald)
            {
                Append('<');
                Append((char)('0' + SyslogPriority(level)));
                Append('>');
            }
            else
            {
                Span<char> stamp = stackalloc char[32];
                _time.GetUtcNow().UtcDateTime.TryFormat(stamp, out int n, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                Append(stamp[..n]);
                Append(' ');
                Append(LevelName(level));
                Append(' ');
            }
            Append(category);
            Append(": ");
            AppendOneLine(message);
            if (exception is not null)
            {
                Append(" (");
                Append(exception.GetType().Name);
                Append(": ");
                AppendOneLine(exception.Message);
                Append(')');
            }
            Append('\n');
            _writer.Write(_line.AsSpan(0, _length));
            _writer.Flush();
            // A rare huge line (a long recipient list) does not keep its buffer: memory stays bounded.
            if (_line.Length > KeptLineBuffer)
            {
                ArrayPool<char>.Shared.Return(_line);
                _line = new char[InitialLineBuffer];
            }
        }
    }

    private const int InitialLineBuffer = 512;
    private const int KeptLineBuffer = 4096;
    private char[] _line = new char[InitialLineBuffer];
    private int _length;

    private void Append(char c)
    {
        if (_length == _line.Length)
            Grow(1);
        _line[_length++] = c;
    }

    private void Append(ReadOnlySpan<char> text)
    {
        if (_line.Length - _length < text.Length)
            Grow(text.Length);
        text.CopyTo(_line.AsSpan(_length));
        _length += text.Length;
    }

    private void Grow(int more)
    {
        char[] bigger = ArrayPool<char>.Shared.Rent(Math.Max(_line.Length * 2, _length + more));
        _line.AsSpan(0, _length).CopyTo(bigger);
        if (_line.Length > InitialLineBuffer)
            ArrayPool<char>.Shared.Return(_line);
        _line = bigger;
    }

    // sd-daemon(3) / syslog(3) priorities.
    internal static int SyslogPriority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,     // LOG_CRIT
        LogLevel.Error => 3,        // LOG_ERR
        LogLevel.Warning => 4,      // LOG_WARNING
        LogLevel.Information => 6,  // LOG_INFO
        _ => 7,                     // LOG_DEBUG
    };

    internal static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Critical => "crit",
        LogLevel.Error => "error",
        LogLevel.Warning => "warn",
        LogLevel.Information => "info",
        LogLevel.Debug => "debug",
        _ => "trace",
    };

    private void AppendOneLine(string text)
    {
        // Runs of ordinary characters are copied whole; only control characters are escaped one by one.
        ReadOnlySpan<char> rest = text;
        Span<char> hex = stackalloc char[4];
        while (!rest.IsEmpty)
        {
            int i = 0;
            while (i < rest.Length && !char.IsControl(rest[i]))
                i++;
            Append(rest[..i]);
            if (i == rest.Length)
                return;
            char c = rest[i];
            if (c == '\n') Append("\\n");
            else if (c == '\r') Append("\\r");
            else
            {
                Append("\\x");
                ((int)c).TryFormat(hex, out int n, "x2", CultureInfo.InvariantCulture);
                Append(hex[..n]);
            }
            rest = rest[(i + 1)..];
        }
    }
}

internal sealed class LineLogger(LogSink sink, string category) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= sink.MinimumLevel;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        sink.Write(logLevel, category, formatter(state, exception), exception);
    }
}
