using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Hosting;
using EdgeMail.Spool;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail queue`: what is waiting in the spool, like mailq: the queue, held messages, and drops in maildrop/ that
/// the daemon has not imported yet (all of them while it is stopped). Asks the running daemon over its socket, or
/// reads the spool's files without changing anything when none answers. The verbs that change the queue (flush,
/// delete, hold, release) are its subcommands (<see cref="QueueControlCommands"/>).
/// </summary>
public static class QueueCommand
{
    /// <summary>How a drop shows in the listing: it is safe on disk, but only a daemon delivers it.</summary>
    public const string MaildropNote = "maildrop (waiting for the daemon)";

    public static Command Create(CliContext context, Option<bool> verbose)
    {
        Option<string> spool = CommonOptions.Spool();
        Option<string> config = CommonOptions.Config();
        Option<bool> json = new("--json")
        {
            Description = "Print a JSON array (id, sender, recipients, size, arrived, attempts, last_error, location, ...).",
        };
        var command = new Command("queue",
            "List queued messages: ID, size, age, sender, recipients, attempts, last error (one line each); maildrop drops too.")
        {
            spool, config, json,
        };
        command.SetAction((result, ct) => RunAsync(context,
            result.GetValue(config), result.GetValue(spool), result.GetValue(json), ct));
        QueueControlCommands.AddTo(command, context);
        return command;
    }

    public static async Task<int> RunAsync(CliContext context, string? configFile, string? spoolDirectory, bool json,
        CancellationToken ct = default)
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

        List<QueueItem> items;
        try
        {
            items = await DaemonClient.ListAsync(config.Spool.Directory, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
        {
            context.Fail($"cannot read the spool folder {config.Spool.Directory}: {e.Message}");
            return ExitCodes.IoError;
        }

        DateTimeOffset now = context.Time.GetUtcNow();
        if (json)
        {
            context.Out.WriteLine(JsonSerializer.Serialize(items, QueueJsonContext.Default.ListQueueItem));
        }
        else
        {
            foreach (QueueItem item in items)
                context.Out.WriteLine(FormatLine(item, now));
        }
        context.Out.Flush();
        return ExitCodes.Ok;
    }

    /// <summary>"ID  SIZE  AGE  SENDER  -> RCPT,RCPT  attempts=N[  held][  maildrop (...)][  last error: TEXT]".</summary>
    public static string FormatLine(QueueItem item, DateTimeOffset now)
    {
        var line = new StringBuilder(160);
        line.Append(item.Id)
            .Append("  ").Append(item.Size.ToString(CultureInfo.InvariantCulture))
            .Append("  ").Append(FormatAge(now - item.Arrived))
            .Append("  ").Append(item.Sender.Length == 0 ? "<>" : item.Sender)
            .Append("  -> ").Append(string.Join(',', item.Recipients))
            .Append("  attempts=").Append(item.Attempts.ToString(CultureInfo.InvariantCulture));
        if (item.Held) line.Append("  held");
        if (item.Location == QueueListing.Maildrop) line.Append("  ").Append(MaildropNote);
        if (!string.IsNullOrEmpty(item.LastError)) line.Append("  last error: ").Append(OneLine(item.LastError));
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

// Source-generated: no reflection in the AOT binary. snake_case to match the config file's keys.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(List<QueueItem>))]
internal partial class QueueJsonContext : JsonSerializerContext
{
}
