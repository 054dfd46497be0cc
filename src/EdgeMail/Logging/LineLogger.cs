using System.Globalization;
using System.Text;
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
        var line = new StringBuilder(128);
        if (Journald)
        {
            line.Append('<').Append(SyslogPriority(level)).Append('>');
        }
        else
        {
            line.Append(_time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
                .Append(' ').Append(LevelName(level)).Append(' ');
        }
        line.Append(category).Append(": ");
        AppendOneLine(line, message);
        if (exception is not null)
        {
            line.Append(" (").Append(exception.GetType().Name).Append(": ");
            AppendOneLine(line, exception.Message);
            line.Append(')');
        }
        line.Append('\n');
        lock (_lock)
        {
            _writer.Write(line.ToString());
            _writer.Flush();
        }
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

    private static void AppendOneLine(StringBuilder line, string text)
    {
        foreach (char c in text)
        {
            if (c == '\n') line.Append("\\n");
            else if (c == '\r') line.Append("\\r");
            else if (char.IsControl(c)) line.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else line.Append(c);
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
