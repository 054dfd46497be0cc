using EdgeMail.Logging;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Tests;

/// <summary>One event = one line on stderr, in journald's form under systemd and with a UTC time otherwise.</summary>
public sealed class LogLineTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly TimeProvider At = new FixedTime(new DateTimeOffset(2026, 11, 24, 1, 2, 3, 456, TimeSpan.Zero));

    [Fact]
    public void Outside_systemd_a_line_has_UTC_time_level_category_and_text()
    {
        var output = new StringWriter();
        new LogSink(output, LogLevel.Information, journald: false, At).CreateLogger("smtpd")
            .LogInformation("connect from {Client}", "192.0.2.7");

        Assert.Equal("2026-11-24T01:02:03.456Z info smtpd: connect from 192.0.2.7\n", output.ToString());
    }

    [Theory]
    [InlineData(LogLevel.Critical, "<2>")]
    [InlineData(LogLevel.Error, "<3>")]
    [InlineData(LogLevel.Warning, "<4>")]
    [InlineData(LogLevel.Information, "<6>")]
    [InlineData(LogLevel.Debug, "<7>")]
    public void Under_journald_a_line_starts_with_the_sd_daemon_priority(LogLevel level, string prefix)
    {
        var output = new StringWriter();
        new LogSink(output, LogLevel.Trace, journald: true, At).CreateLogger("spool").Log(level, "x");

        Assert.Equal(prefix + "spool: x\n", output.ToString());
    }

    [Fact]
    public void JOURNAL_STREAM_set_means_journald()
    {
        Assert.True(LogSink.IsJournald("8:12345"));
        Assert.False(LogSink.IsJournald(null));
        Assert.False(LogSink.IsJournald(""));
    }

    [Fact]
    public void Events_below_the_level_are_not_written()
    {
        var output = new StringWriter();
        ILogger log = new LogSink(output, LogLevel.Information, journald: true, At).CreateLogger("relay");

        log.LogDebug("detail");
        Assert.False(log.IsEnabled(LogLevel.Debug));
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Line_breaks_in_logged_values_cannot_forge_a_second_line()
    {
        var output = new StringWriter();
        new LogSink(output, LogLevel.Information, journald: true, At).CreateLogger("smtpd")
            .LogInformation("HELO {Helo}", "evil\r\n<3>smtpd: fake\x01");

        Assert.Equal("<6>smtpd: HELO evil\\r\\n<3>smtpd: fake\\x01\n", output.ToString());
    }

    [Fact]
    public void An_exception_is_summarised_on_the_same_line()
    {
        var output = new StringWriter();
        new LogSink(output, LogLevel.Information, journald: true, At).CreateLogger("spool")
            .LogError(new IOException("disk\nfull"), "commit failed");

        Assert.Equal("<3>spool: commit failed (IOException: disk\\nfull)\n", output.ToString());
    }
}
