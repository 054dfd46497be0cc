using System.CommandLine;
using System.Text;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail user add NAME [--replace] | del NAME | list`: the accounts SMTP AUTH checks, in the file
/// --users names, else the config's [auth] users_file (the file the daemon reads). The password comes from standard input: asked twice without echo on a terminal, the first
/// line from a pipe (`echo secret | edgemail user add bob --users FILE`), never from the command line,
/// where `ps` and the shell history would show it.
/// </summary>
public static class UserCommand
{
    public static Command Create(CliContext context)
    {
        var user = new Command("user", "Manage the users SMTP AUTH accepts (add, del, list).");

        Argument<string> addName = NameArgument();
        Option<string> addUsers = UsersOption();
        Option<string> addConfig = CommonOptions.Config();
        Option<bool> replace = new("--replace") { Description = "Change the password of an existing user." };
        var add = new Command("add", "Add a user; the password is read from standard input (no echo on a terminal).")
        {
            addName, addUsers, addConfig, replace,
        };
        add.SetAction(result => WithUsersFile(context, result.GetValue(addUsers), result.GetValue(addConfig),
            file => Add(context, result.GetValue(addName)!, file, result.GetValue(replace))));

        Argument<string> delName = NameArgument();
        Option<string> delUsers = UsersOption();
        Option<string> delConfig = CommonOptions.Config();
        var del = new Command("del", "Remove a user.") { delName, delUsers, delConfig };
        del.SetAction(result => WithUsersFile(context, result.GetValue(delUsers), result.GetValue(delConfig),
            file => Delete(context, result.GetValue(delName)!, file)));

        Option<string> listUsers = UsersOption();
        Option<string> listConfig = CommonOptions.Config();
        var list = new Command("list", "Print the user names, one per line.") { listUsers, listConfig };
        list.SetAction(result => WithUsersFile(context, result.GetValue(listUsers), result.GetValue(listConfig),
            file => List(context, file)));

        user.Add(add);
        user.Add(del);
        user.Add(list);
        return user;
    }

    /// <summary>--users wins; else [auth] users_file of --config (or of the built-in config). A user added to
    /// a file the daemon does not read would be a silent no-op, so with neither the verb refuses (64).</summary>
    private static int WithUsersFile(CliContext context, string? usersFile, string? configFile, Func<string, int> run)
    {
        if (usersFile is null)
        {
            try
            {
                usersFile = CommonOptions.LoadConfig(context, configFile, spool: null).Auth.UsersFile;
            }
            catch (ConfigException e)
            {
                context.Fail("config error: " + e.Message);
                return ExitCodes.Config;
            }
            if (usersFile.Length == 0)
            {
                context.Fail("no users file: give --users FILE, or set [auth] users_file in the config");
                return ExitCodes.Usage;
            }
        }
        return run(Path.GetFullPath(usersFile, context.CurrentDirectory));
    }

    public static int Add(CliContext context, string name, string usersFile, bool replace)
    {
        using var stdin = new StreamReader(context.Input, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false,
            bufferSize: 1024, leaveOpen: true);
        return UserCommands.Add(Path.GetFullPath(usersFile, context.CurrentDirectory), name, stdin, context.InputIsTerminal,
            context.Out, context.Error, replace);
    }

    public static int Delete(CliContext context, string name, string usersFile)
        => UserCommands.Delete(Path.GetFullPath(usersFile, context.CurrentDirectory), name, context.Out, context.Error);

    public static int List(CliContext context, string usersFile)
        => UserCommands.List(Path.GetFullPath(usersFile, context.CurrentDirectory), context.Out, context.Error);

    private static Argument<string> NameArgument() => new("NAME") { Description = "The user name (what the client sends in AUTH)." };

    private static Option<string> UsersOption() => new("--users")
    {
        Description = "The users file (created on the first add); default: [auth] users_file of the config.",
        HelpName = "FILE",
    };
}
