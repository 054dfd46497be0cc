using System.CommandLine;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Device.Local;
using AlertMessage = EdgeMail.Device.Local.AlertCommand;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail alert --to ADDR [--to ADDR]... --subject TEXT` with the body on standard input: one call for
/// scripts and cron to raise an alert. The message is composed like the sensor alerts (UTF-8, RFC 2047
/// subject) and dropped into the spool's maildrop, so it needs no running daemon.
/// </summary>
public static class AlertCommand
{
    public static Command Create(CliContext context)
    {
        Option<string[]> to = new("--to")
        {
            Description = "Recipient address; repeat for more.",
            HelpName = "ADDR",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        Option<string> subject = new("--subject", "-s")
        {
            Description = "Subject line (any UTF-8 text).",
            HelpName = "TEXT",
            Required = true,
        };
        Option<string> from = new("--from")
        {
            Description = "Sender address (default: edgemail@ the [server] hostname, else the system's name).",
            HelpName = "ADDR",
        };
        Option<string> spool = CommonOptions.Spool();
        Option<string> config = CommonOptions.Config();
        var command = new Command("alert", "Queue an alert message: the body is read from standard input (UTF-8, at most 1 MiB).")
        {
            to, subject, from, spool, config,
        };
        command.SetAction((result, cancellationToken) => RunAsync(context, result.GetValue(to) ?? [], result.GetValue(subject) ?? "",
            result.GetValue(from), result.GetValue(config), result.GetValue(spool), cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(CliContext context, IReadOnlyList<string> to, string subject, string? from,
        string? configFile, string? spoolDirectory, CancellationToken cancellationToken = default)
    {
        if (!CommonOptions.TryLoadConfig(context, configFile, spoolDirectory, out EdgeMailConfig? config))
            return ExitCodes.Config;
        string host = config.Server.Hostname.Length > 0 ? config.Server.Hostname : Environment.MachineName;
        SendmailResult result = await AlertMessage.RunAsync(to, subject, context.Input, from ?? "edgemail@" + host, host,
            config.Spool.Directory, context.Time, cancellationToken);
        if (!result.Ok)
        {
            context.Fail(result.Error ?? "the alert was not queued");
            return result.ExitCode;
        }
        context.Out.WriteLine(result.QueueId);
        context.Out.Flush();
        return ExitCodes.Ok;
    }
}
