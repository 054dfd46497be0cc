namespace EdgeMail.Cli;

/// <summary>
/// What a verb may touch of the process: its output streams, current directory, environment and
/// clock. Program passes the real ones; tests pass their own, so verbs never reach for Console or
/// Environment directly.
/// </summary>
public sealed class CliContext
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }
    public required string CurrentDirectory { get; init; }
    public Func<string, string?> GetEnvironmentVariable { get; init; } = _ => null;
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Standard input as bytes (sendmail, alert and `user add` read it); empty unless given.</summary>
    public Stream Input { get; init; } = Stream.Null;
    /// <summary>True when standard input is a terminal: `user add` then asks for the password without echo.</summary>
    public bool InputIsTerminal { get; init; }
    /// <summary>Standard output as bytes (`sendmail -bs` speaks SMTP on it); discarded unless given.</summary>
    public Stream OutputStream { get; init; } = Stream.Null;

    public static CliContext FromProcess() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        CurrentDirectory = Environment.CurrentDirectory,
        GetEnvironmentVariable = Environment.GetEnvironmentVariable,
        Input = Console.OpenStandardInput(),
        OutputStream = Console.OpenStandardOutput(),
        InputIsTerminal = !Console.IsInputRedirected,
    };

    /// <summary>One line to stderr, prefixed with the program name (the form every Unix tool uses).</summary>
    public void Fail(string message)
    {
        Error.WriteLine("edgemail: " + message);
        Error.Flush();
    }
}
