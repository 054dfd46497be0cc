using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Logging;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail queue`: what is waiting in the spool, like mailq. Reads the spool folder directly, so it
/// works whether or not the daemon runs. The verbs that change the queue (flush, delete, hold, release)
/// are its subcommands (<see cref="QueueControlCommands"/>).
/// </summary>
public static class QueueCommand
{
    public static Command Create(CliContext context, Option<bool> verbose)
    {
        Option<string> spool = CommonOptions.Spool();
        Option<string> config = CommonOptions.Config();
        Option<bool> json = new("--json")
        {
            Description = "Print a JSON array (id, sender, recipients, size, arrived, attempts, last_error, ...).",
        };
        var command = new Command("queue",
            "List queued messages: ID, size, age, sender, recipients, attempts, last error (one line each).")
        {
            spool, config, json,
        };
        command.SetAction(result => Run(context,
            result.GetValue(config), result.GetValue(spool), result.GetValue(json), result.GetValue(verbose)));
        QueueControlCommands.AddTo(command, context);
        return command;
    }

    public static int Run(CliContext context, string? configFile, string? spoolDirectory, bool json, bool verbose)
    {
        if (!CommonOptions.TryLoadConfig(context, configFile, spoolDirectory, out EdgeMailConfig? config))
            return ExitCodes.Config;

        // Listing must not create a spool where none was: a typo in --spool should say so, not print
        // an empty queue.
        if (!Directory.Exists(config.Spool.Directory))
        {
            context.Fail($"no spool folder at {config.Spool.Directory}");
            return ExitCodes.NoInput;
        }

        // With the daemon running the spool opens read-only and says so at warning level; for a
        // listing that is the normal case, so only errors show unless --verbose.
        var sink = new LogSink(context.Error, verbose ? LogLevel.Debug : LogLevel.Error,
            LogSink.IsJournald(context.GetEnvironmentVariable("JOURNAL_STREAM")), context.Time);
        IReadOnlyList<QueueEntry> entries;
        try
        {
            using MessageSpool messageSpool = MessageSpool.Open(new SpoolOptions { Directory = config.Spool.Directory },
                sink.CreateLogger("spool"));
            entries = messageSpool.List();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
        {
            context.Fail($"cannot read the spool folder {config.Spool.Directory}: {e.Message}");
            return ExitCodes.IoError;
        }

        DateTimeOffset now = context.Time.GetUtcNow();
        if (json)
        {
            var items = entries.Select(e => QueueItem.From(e)).ToList();
            context.Out.WriteLine(JsonSerializer.Serialize(items, QueueJsonContext.Default.ListQueueItem));
        }
        else
        {
            foreach (QueueEntry entry in entries)
                context.Out.WriteLine(FormatLine(entry, now));
        }
        context.Out.Flush();
        return ExitCodes.Ok;
    }

    /// <summary>"ID  SIZE  AGE  SENDER  -> RCPT,RCPT  attempts=N[  held][  last error: TEXT]".</summary>
    public static string FormatLine(QueueEntry entry, DateTimeOffset now)
    {
        var line = new StringBuilder(160);
        line.Append(entry.Id)
            .Append("  ").Append(entry.Size.ToString(CultureInfo.InvariantCulture))
            .Append("  ").Append(FormatAge(now - entry.Envelope.Arrived))
            .Append("  ").Append(entry.Envelope.Sender.Length == 0 ? "<>" : entry.Envelope.Sender)
            .Append("  -> ").Append(string.Join(',', entry.Envelope.Recipients))
            .Append("  attempts=").Append(entry.Attempts.ToString(CultureInfo.InvariantCulture));
        if (entry.Held) line.Append("  held");
        if (!string.IsNullOrEmpty(entry.LastError)) line.Append("  last error: ").Append(OneLine(entry.LastError));
        return line.ToString();
    }

    /// <summary>The largest whole unit: 42s, 17m, 5h, 3d.</summary>
    public static string FormatAge(TimeSpan age)
    {
        if (age < TimeSpan.Zero) age = TimeSpan.Zero;
        return age.TotalMinutes < 1 ? $"{(int)age.TotalSeconds}s"
            : age.TotalHours < 1 ? $"{(int)age.TotalMinutes}m"
            : age.TotalDays < 1 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }

    private static string OneLine(string text) => text.Replace('\r', ' ').Replace('\n', ' ');
}

/// <summary>One message in `queue --json`. The contract: id, sender, recipients, size, arrived (ISO 8601).</summary>
public sealed record QueueItem(
    string Id,
    string Sender,
    IReadOnlyList<string> Recipients,
    long Size,
    DateTimeOffset Arrived,
    int Attempts,
    string? LastError,
    DateTimeOffset? NextAttempt,
    bool Held,
    IReadOnlyList<QueueRecipient> RecipientStates,
    string ClientAddress,
    string Helo)
{
    public static QueueItem From(QueueEntry e) => new(
        e.Id,
        e.Envelope.Sender,
        e.Envelope.Recipients,
        e.Size,
        e.Envelope.Arrived.ToUniversalTime(),
        e.Attempts,
        e.LastError,
        e.NextAttempt?.ToUniversalTime(),
        e.Held,
        e.Recipients.Select(r => new QueueRecipient(r.Address, r.Status switch
        {
            RecipientStatus.Delivered => "delivered",
            RecipientStatus.Failed => "failed",
            _ => "pending",
        }, r.LastReply)).ToList(),
        e.Envelope.ClientAddress,
        e.Envelope.Helo);
}

public sealed record QueueRecipient(string Address, string Status, string? LastReply);

// Source-generated: no reflection in the AOT binary. snake_case to match the config file's keys.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(List<QueueItem>))]
internal partial class QueueJsonContext : JsonSerializerContext
{
}
