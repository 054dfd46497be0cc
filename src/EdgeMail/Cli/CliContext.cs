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

    public static CliContext FromProcess() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        CurrentDirectory = Environment.CurrentDirectory,
        GetEnvironmentVariable = Environment.GetEnvironmentVariable,
    };

    /// <summary>One line to stderr, prefixed with the program name (the form every Unix tool uses).</summary>
    public void Fail(string message)
    {
        Error.WriteLine("edgemail: " + message);
        Error.Flush();
    }
}
