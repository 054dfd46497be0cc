using EdgeMail.Config;

namespace EdgeMail.Tests;

/// <summary>Loads config text the way `serve --config` does, from a fixed current directory.</summary>
internal static class ConfigText
{
    public const string Cwd = "/srv/edgemail";

    public static EdgeMailConfig Load(string toml) => ConfigLoader.Parse(toml, "test.toml", Cwd);

    public static ConfigException Error(string toml) => Assert.Throws<ConfigException>(() => Load(toml));

    /// <summary>Loading <paramref name="toml"/> fails, and the error names exactly <paramref name="key"/> (when given),
    /// with <paramref name="problemContains"/> in what is wrong and <paramref name="allowedContains"/> in what would be
    /// right (when given). Returns the error for anything more a test asserts.</summary>
    public static ConfigException Refuses(string toml, string? key = null, string? problemContains = null, string? allowedContains = null)
    {
        ConfigException e = Error(toml);
        if (key is not null) Assert.Equal(key, e.Key);
        if (problemContains is not null) Assert.Contains(problemContains, e.Problem);
        if (allowedContains is not null) Assert.Contains(allowedContains, e.Allowed);
        return e;
    }
}
