using System.CommandLine;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Device.Local;
using EdgeMail.Hosting;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail queue flush | delete ID | hold ID | release ID`: the verbs that change the queue. Each asks
/// the running daemon over its socket (so its scheduler sees the change at once) and acts on the spool
/// directly when no daemon answers (<see cref="DaemonClient"/> decides which).
/// </summary>
public static class QueueControlCommands
{
    // The verbs in one table: name, whether it takes an ID, help text.
    private static readonly (DaemonVerb Verb, string Name, bool TakesId, string Help)[] Verbs =
    [
        (DaemonVerb.Flush, "flush", false, "Retry every queued message now (asks the running daemon; without one there is nothing to do)."),
        (DaemonVerb.Delete, "delete", true, "Remove a message from the queue without delivering it or bouncing it."),
        (DaemonVerb.Hold, "hold", true, "Keep a message in the queue but stop delivering it until it is released."),
        (DaemonVerb.Release, "release", true, "Deliver a held message again."),
    ];

    public static void AddTo(Command queue, CliContext context)
    {
        foreach ((DaemonVerb verb, string name, bool takesId, string help) in Verbs)
        {
            Option<string> spool = CommonOptions.Spool();
            Option<string> config = CommonOptions.Config();
            var command = new Command(name, help) { spool, config };
            Argument<string>? id = null;
            if (takesId)
            {
                id = new Argument<string>("ID") { Description = "The queue ID, as `edgemail queue` lists it." };
                command.Add(id);
            }
            command.SetAction((result, cancellationToken) => RunAsync(context, verb,
                id is null ? null : result.GetValue(id), result.GetValue(config), result.GetValue(spool), cancellationToken));
            queue.Add(command);
        }
    }

    public static async Task<int> RunAsync(CliContext context, DaemonVerb verb, string? id, string? configFile, string? spoolDirectory,
        CancellationToken cancellationToken = default)
    {
        if (!CommonOptions.TryLoadConfig(context, configFile, spoolDirectory, out EdgeMailConfig? config))
            return ExitCodes.Config;
        string directory = config.Spool.Directory;
        // Opening the spool would create it: a typo in --spool must say so, not act on an empty new queue.
        if (!Directory.Exists(directory))
        {
            context.Fail($"no spool folder at {directory}");
            return ExitCodes.NoInput;
        }

        QueueControlResult result;
        try
        {
            result = await DaemonClient.ControlAsync(directory, verb, id, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException
                                      or OperationCanceledException)
        {
            context.Fail($"cannot reach the queue in {directory}: {e.Message}");
            return Sysexits.TempFail;
        }

        if (result.Ok)
        {
            context.Out.WriteLine(result.Message);
            context.Out.Flush();
            return ExitCodes.Ok;
        }
        context.Fail(result.Message);
        return ExitCodeFor(result);
    }

    /// <summary>A malformed ID is a usage error (64); a well-formed one that is not queued (or, for release,
    /// not held) is EX_NOUSER (67), as sendmail reports an unknown recipient; anything else (the spool is owned
    /// by a daemon that does not answer) is temporary (75).</summary>
    internal static int ExitCodeFor(QueueControlResult result)
    {
        if (result.Message.StartsWith("invalid queue ID", StringComparison.Ordinal)) return ExitCodes.Usage;
        if (result.Message.EndsWith("no such message", StringComparison.Ordinal)) return Sysexits.NoUser;
        return Sysexits.TempFail;
    }
}
