using System.Text.RegularExpressions;
using EdgeMail.EndToEnd.Tests.Support;

namespace EdgeMail.EndToEnd.Tests;

public sealed partial class CommandLineTests
{
    const int ExConfig = 78; // sysexits.h EX_CONFIG

    [Fact]
    public async Task Version_prints_a_version_and_exits_0()
    {
        var run = await EdgeMailCli.RunAsync(EdgeMailBinary.X64, "--version");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"\d+\.\d+", run.Stdout);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("serve", "--help")]
    [InlineData("queue", "--help")]
    public async Task Help_exits_0_and_names_the_verbs_and_options(params string[] arguments)
    {
        var run = await EdgeMailCli.RunAsync(EdgeMailBinary.X64, arguments);

        Assert.True(run.ExitCode == 0, run.ToString());
        var expected = arguments[0] switch
        {
            "serve" => new[] { "--listen", "--spool", "--config" },
            "queue" => ["--spool", "--json"],
            _ => ["serve", "queue"],
        };
        foreach (var word in expected) Assert.True(run.Stdout.Contains(word), $"help does not mention {word}\n{run}");
    }

    [Fact]
    public async Task An_unknown_config_key_stops_serve_with_exit_78_naming_the_key_and_its_line()
    {
        using var dir = new TempDirectory("config-key");
        var (config, line) = DefaultConfigWith(dir, "no_such_setting_zz = 1");

        var run = await ServeAsync(dir, config);

        Assert.True(run.ExitCode == ExConfig, $"expected exit {ExConfig}\n{run}");
        Assert.Contains("no_such_setting_zz", run.Stderr);
        AssertNamesLine(run, line);
    }

    [Fact]
    public async Task A_bad_config_value_stops_serve_with_exit_78_naming_the_key_and_its_line()
    {
        using var dir = new TempDirectory("config-value");
        // Take an integer setting from the shipped default config and give it a word instead.
        var lines = File.ReadAllLines(DefaultConfigPath()).ToList();
        var index = lines.FindIndex(l => l.TrimStart().StartsWith("max_recipients", StringComparison.Ordinal) && IntegerSetting().IsMatch(l));
        if (index < 0) index = lines.FindIndex(l => IntegerSetting().IsMatch(l));
        Assert.True(index >= 0, $"{DefaultConfigPath()} has no 'key = <integer>' line to spoil");
        var key = IntegerSetting().Match(lines[index]).Groups[1].Value;
        lines[index] = $"{key} = \"plenty\"";
        var config = dir.Write("edgemail.toml", string.Join('\n', lines) + "\n");

        var run = await ServeAsync(dir, config);

        Assert.True(run.ExitCode == ExConfig, $"expected exit {ExConfig}\n{run}");
        Assert.Contains(key, run.Stderr);
        AssertNamesLine(run, index + 1);
    }

    [GeneratedRegex(@"^\s*([A-Za-z0-9_]+)\s*=\s*\d+\s*(#.*)?$")]
    private static partial Regex IntegerSetting();

    // serve with a bad config must stop on its own; if it starts instead, it prints "listening on" and runs
    // until the tool limit ends it, which fails the test with the transcript.
    static Task<ToolResult> ServeAsync(TempDirectory dir, string config) =>
        Tool.RunAsync(EdgeMailBinary.X64.StartInfo(["serve", "--listen", "127.0.0.1:0", "--spool", dir.File("spool"), "--config", config], dir.Path),
                      limit: TimeSpan.FromSeconds(20));

    static void AssertNamesLine(ToolResult run, int line)
    {
        // "line 7", "edgemail.toml:7:", "(7,1)" are all honest ways to name a line.
        var pattern = $@"(line\s*{line}\b|:{line}(:|\b)|\({line},)";
        Assert.True(Regex.IsMatch(run.Stderr, pattern, RegexOptions.IgnoreCase), $"stderr does not name line {line}\n{run}");
    }

    static string DefaultConfigPath()
    {
        var root = RepositoryRoot.Find();
        Assert.True(root is not null, "repository root (EdgeMail.sln) not found");
        return Path.Combine(root!, "firmware-config", "edgemail.toml");
    }

    // The shipped config plus one line at the end; returns the file and the (1-based) line of the addition.
    static (string Path, int Line) DefaultConfigWith(TempDirectory dir, string extra)
    {
        var lines = File.ReadAllLines(DefaultConfigPath()).ToList();
        lines.Add(extra);
        return (dir.Write("edgemail.toml", string.Join('\n', lines) + "\n"), lines.Count);
    }
}
