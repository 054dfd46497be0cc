using EdgeMail.Config;

namespace EdgeMail.Tests;

/// <summary>Loads config text the way `serve --config` does, from a fixed current directory.</summary>
internal static class ConfigText
{
    public const string Cwd = "/srv/edgemail";

    public static EdgeMailConfig Load(string toml) => ConfigLoader.Parse(toml, "test.toml", Cwd);

    public static ConfigException Error(string toml) => Assert.Throws<ConfigException>(() => Load(toml));
}
