using System.CommandLine;
using System.CommandLine.Invocation;
using EdgeMail.Cli;
using EdgeMail.Commands;

namespace EdgeMail;

public static class Program
{
    public static int Main(string[] args)
    {
        CliContext context = CliContext.FromProcess();
        string[] effective = Personality.Rewrite(InvokedAs(), args);
        try
        {
            return Run(context, effective);
        }
        catch (Exception e)
        {
            // A bug, not a user error: one line and EX_SOFTWARE rather than a stack trace on a device console.
            context.Fail($"internal error: {e.GetType().Name}: {e.Message}");
            return ExitCodes.Software;
        }
    }

    public static int Run(CliContext context, string[] args)
    {
        // sendmail's getopt-style flags (-ti, -fme@x, -oi) are not System.CommandLine's syntax: that verb
        // (and mailq, its listing) parses its own command line.
        if (args.Length > 0 && SendmailCommand.Handles(args[0]))
            return SendmailCommand.RunAsync(context, args[0], args[1..]).GetAwaiter().GetResult();

        RootCommand root = BuildRoot(context);
        ParseResult result = root.Parse(args);
        if (result.Action is ParseErrorAction parseError)
        {
            // The error itself, not two screens of help that scroll it away.
            parseError.ShowHelp = false;
        }
        int code = result.Invoke(new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            // serve installs its own SIGTERM/SIGINT handling (graceful stop, exit 0).
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        });
        if (result.Action is ParseErrorAction && code != 0)
        {
            context.Error.WriteLine("Try 'edgemail --help'.");
            // System.CommandLine reports a bad command line as 1; sysexits.h says EX_USAGE.
            return ExitCodes.Usage;
        }
        return code;
    }

    public static RootCommand BuildRoot(CliContext context)
    {
        Option<bool> verbose = CommonOptions.Verbose();
        var root = new RootCommand(
            "EdgeMail: an SMTP server with a durable on-disk queue and a relay, for LAN appliances.")
        {
            verbose,
            // One file per verb under Commands/; a new verb is one more line here.
            ServeCommand.Create(context, verbose),
            QueueCommand.Create(context, verbose),
            StatusCommand.Create(context, verbose),
            AlertCommand.Create(context),
            UserCommand.Create(context),
        };
        foreach (Command entry in SendmailCommand.HelpEntries()) root.Add(entry);
        return root;
    }

    // argv[0] as the user typed it (a symlink's own name), not /proc/self/exe.
    private static string InvokedAs()
    {
        string[] argv = Environment.GetCommandLineArgs();
        return argv.Length > 0 ? Path.GetFileName(argv[0]) : "edgemail";
    }
}

/// <summary>
/// The binary answers to other names through symlinks, as MTAs do: /usr/sbin/sendmail and
/// /usr/bin/mailq point at edgemail. The name picks the verb; the arguments are passed on untouched
/// for that verb to parse in its own (sendmail-compatible) syntax.
/// </summary>
public static class Personality
{
    private static readonly (string Name, string[] Verb)[] Names =
    [
        // mailq prints Postfix's layout (MailQueueListing), which scripts parse; `edgemail queue` keeps its own.
        ("mailq", ["mailq"]),
        ("sendmail", ["sendmail"]),
    ];

    public static string[] Rewrite(string invokedAs, string[] args)
    {
        foreach ((string name, string[] verb) in Names)
        {
            if (invokedAs == name) return [.. verb, .. args];
        }
        return args;
    }
}
