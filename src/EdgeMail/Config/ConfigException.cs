namespace EdgeMail.Config;

/// <summary>
/// A config problem that stops start-up (exit 78, EX_CONFIG). The message names the file, line and column
/// (when the problem is in a file), the key, what is wrong, and what is allowed.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string? key, string problem, string? allowed = null,
        string? source = null, int line = 0, int column = 0)
        : base(Format(key, problem, allowed, source, line, column))
    {
        Key = key;
        Problem = problem;
        Allowed = allowed;
        Source = source;
        Line = line;
        Column = column;
    }

    /// <summary>"server.max_recipients", or null for a syntax error.</summary>
    public string? Key { get; }
    public string Problem { get; }
    public string? Allowed { get; }
    public new string? Source { get; }
    /// <summary>1-based; 0 when the problem did not come from a file (a command-line flag).</summary>
    public int Line { get; }
    public int Column { get; }

    private static string Format(string? key, string problem, string? allowed, string? source, int line, int column)
    {
        string where = source is null ? "" : line > 0 ? $"{source}:{line}:{column}: " : $"{source}: ";
        string what = key is null ? problem : $"{key}: {problem}";
        return allowed is null ? where + what : $"{where}{what} (allowed: {allowed})";
    }
}
