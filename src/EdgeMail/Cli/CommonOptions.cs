using System.CommandLine;
using System.CommandLine.Parsing;
using EdgeMail.Config;

namespace EdgeMail.Cli;

/// <summary>Options several verbs share, and the one way to turn them into a config.</summary>
public static class CommonOptions
{
    public static Option<string> Config() => new("--config", "-c")
    {
        Description = "Config file (TOML). Without it the built-in default config (firmware-config/edgemail.toml) is used.",
        HelpName = "FILE",
    };

    public static Option<string> Spool() => new("--spool")
    {
        Description = "Spool folder; overrides [spool] directory.",
        HelpName = "DIR",
    };

    public static Option<bool> Verbose() => new("--verbose", "-v")
    {
        Description = "Log debug detail (same as [log] level = \"debug\").",
        Recursive = true,
    };

    /// <summary>The config file named by --config, or the embedded one; then --spool on top.</summary>
    /// <exception cref="ConfigException"/>
    public static EdgeMailConfig LoadConfig(CliContext context, string? configFile, string? spool)
    {
        EdgeMailConfig config = configFile is null
            ? ConfigLoader.LoadEmbedded(context.CurrentDirectory)
            : ConfigLoader.LoadFile(configFile, context.CurrentDirectory);
        if (spool is not null)
            config.Spool.Directory = Path.GetFullPath(spool, context.CurrentDirectory);
        return config;
    }

    /// <summary><see cref="LoadConfig"/> for a verb: a bad config is reported as "config error: …" and the verb
    /// returns <see cref="ExitCodes.Config"/> (78).</summary>
    public static bool TryLoadConfig(CliContext context, string? configFile, string? spool,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EdgeMailConfig? config)
    {
        try
        {
            config = LoadConfig(context, configFile, spool);
            return true;
        }
        catch (ConfigException e)
        {
            context.Fail("config error: " + e.Message);
            config = null;
            return false;
        }
    }

    /// <summary>Checks each value of a repeatable option with one of the config parsers, so the CLI and
    /// the file accept exactly the same forms.</summary>
    public static void ValidateEach(Option<string[]> option, Func<string, string?> check, string allowed)
    {
        option.Validators.Add(result =>
        {
            foreach (Token token in result.Tokens)
            {
                if (check(token.Value) is { } error)
                    result.AddError($"{option.Name}: {error} (allowed: {allowed})");
            }
        });
    }
}
