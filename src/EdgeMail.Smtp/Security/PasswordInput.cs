using System.Text;

namespace EdgeMail.Smtp.Security;

/// <summary>How `edgemail user add` reads a password: from a pipe as one line, from a terminal without echo.</summary>
public static class PasswordInput
{
    public const int MaxLength = SaslExchange.MaxFieldLength;

    /// <summary>
    /// Reads one password. On a terminal the keys are read with <paramref name="readKey"/>
    /// (default: Console.ReadKey(intercept: true), which does not echo) and nothing but a newline is
    /// written to <paramref name="prompt"/>; otherwise the first line of <paramref name="input"/>
    /// is the password (so `echo secret | edgemail user add bob` works in scripts).
    /// Throws <see cref="InvalidDataException"/> for an empty, too long or missing password.
    /// </summary>
    public static string ReadPassword(TextReader input, bool isTerminal, TextWriter? prompt = null, Func<ConsoleKeyInfo>? readKey = null)
    {
        string password;
        if (isTerminal)
        {
            readKey ??= () => Console.ReadKey(intercept: true);
            prompt?.Write("Password: ");
            var sb = new StringBuilder();
            while (true)
            {
                var key = readKey();
                if (key.Key == ConsoleKey.Enter || key.KeyChar is '\r' or '\n') break;
                if (key.Key == ConsoleKey.Backspace || key.KeyChar is '\b' or '\x7f')
                {
                    if (sb.Length > 0) sb.Length--;
                    continue;
                }
                // Ctrl-D on an empty line, or Ctrl-C when the terminal delivers it as a key: give up.
                if (key.KeyChar is '\x04' or '\x03') throw new InvalidDataException("no password entered");
                if (char.IsControl(key.KeyChar)) continue;
                sb.Append(key.KeyChar);
                if (sb.Length > MaxLength) throw new InvalidDataException($"the password is longer than {MaxLength} characters");
            }
            prompt?.WriteLine();
            password = sb.ToString();
        }
        else
        {
            password = input.ReadLine() ?? throw new InvalidDataException("no password on standard input");
            password = password.TrimEnd('\r');
        }
        if (password.Length == 0) throw new InvalidDataException("the password is empty");
        if (Encoding.UTF8.GetByteCount(password) > MaxLength) throw new InvalidDataException($"the password is longer than {MaxLength} bytes");
        if (password.Contains('\0')) throw new InvalidDataException("the password contains a NUL character");
        return password;
    }
}
