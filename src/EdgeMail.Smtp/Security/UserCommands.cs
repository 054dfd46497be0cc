using System.Text;

namespace EdgeMail.Smtp.Security;

/// <summary>
/// The bodies of `edgemail user add|del|list [--users FILE]`, so the CLI verb only parses arguments
/// and passes the console in. Exit codes follow sysexits(3) like the rest of the CLI.
/// </summary>
public static class UserCommands
{
    public const int Ok = 0;
    public const int Usage = 64;     // EX_USAGE: bad user name
    public const int DataError = 65; // EX_DATAERR: no/empty/mismatched password
    public const int NoUser = 67;    // EX_NOUSER: del of an unknown user
    public const int IoError = 74;   // EX_IOERR
    public const int Config = 78;    // EX_CONFIG: the users file is malformed

    /// <summary>
    /// Adds NAME (or changes its password with <paramref name="replace"/>). On a terminal the password
    /// is asked twice without echo; from a pipe it is the first line of standard input.
    /// </summary>
    public static int Add(string usersPath, string name, TextReader stdin, bool stdinIsTerminal, TextWriter stdout, TextWriter stderr,
        bool replace = false, Func<ConsoleKeyInfo>? readKey = null)
    {
        if (!UserStore.IsValidUserName(name))
        {
            stderr.WriteLine($"edgemail: invalid user name '{name}' (1-{UserStore.MaxNameLength} of A-Z a-z 0-9 . _ - @ +)");
            return Usage;
        }
        return Guard(stderr, () =>
        {
            var store = new UserStore(usersPath);
            if (!replace && store.List().Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                stderr.WriteLine($"edgemail: user '{name}' already exists in {store.FilePath} (use --replace to change the password)");
                return DataError;
            }
            string password = PasswordInput.ReadPassword(stdin, stdinIsTerminal, stderr, readKey);
            if (stdinIsTerminal)
            {
                stderr.Write("Again: ");
                string again = PasswordInput.ReadPassword(stdin, stdinIsTerminal, null, readKey);
                stderr.WriteLine();
                if (!string.Equals(password, again, StringComparison.Ordinal))
                {
                    stderr.WriteLine("edgemail: the passwords differ; nothing changed");
                    return DataError;
                }
            }
            byte[] bytes = Encoding.UTF8.GetBytes(password);
            try
            {
                bool added = store.Add(name, bytes, replace);
                stdout.WriteLine(added ? $"user {name} {(replace ? "set" : "added")} in {store.FilePath}" : $"user {name} exists");
                return added ? Ok : DataError;
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
            }
        });
    }

    public static int Delete(string usersPath, string name, TextWriter stdout, TextWriter stderr) => Guard(stderr, () =>
    {
        var store = new UserStore(usersPath);
        if (!store.Delete(name))
        {
            stderr.WriteLine($"edgemail: no user '{name}' in {store.FilePath}");
            return NoUser;
        }
        stdout.WriteLine($"user {name} deleted from {store.FilePath}");
        return Ok;
    });

    public static int List(string usersPath, TextWriter stdout, TextWriter stderr) => Guard(stderr, () =>
    {
        foreach (var n in new UserStore(usersPath).List()) stdout.WriteLine(n);
        return Ok;
    });

    private static int Guard(TextWriter stderr, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (UsersFileException e)
        {
            stderr.WriteLine($"edgemail: users file: {e.Message}");
            return Config;
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"edgemail: {e.Message}; nothing changed");
            return DataError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgemail: {e.Message}");
            return IoError;
        }
    }
}
