namespace EdgeMail.Config;

/// <summary>
/// Where each key of a loaded file was written, so checks made after mapping (a rule naming a sensor that
/// does not exist) can still name the line. Entries of [[x]] are numbered in file order.
/// </summary>
internal sealed class ConfigLocations(string sourceName)
{
    private readonly Dictionary<string, (int Line, int Column)> _at = new(StringComparer.Ordinal);

    private static string Id(string section, int index, string key) =>
        (index >= 0 ? $"{section}[{index}]" : section) + (key.Length > 0 ? "." + key : "");

    public void Add(string section, int index, string key, int line, int column) =>
        _at.TryAdd(Id(section, index, key), (line, column));

    /// <summary>A problem at the key if it was written, else at the entry's header, else without a line.</summary>
    public ConfigException Error(string section, int index, string key, string name, string problem, string? allowed)
    {
        if (!_at.TryGetValue(Id(section, index, key), out var at))
            _at.TryGetValue(Id(section, index, ""), out at);
        return new ConfigException(name, problem, allowed, sourceName, at.Line, at.Column);
    }
}
