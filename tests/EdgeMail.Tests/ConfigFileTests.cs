using EdgeMail.Config;

namespace EdgeMail.Tests;

/// <summary>firmware-config/edgemail.toml: the config compiled into the binary and the reference for every key.</summary>
public sealed class ConfigFileTests
{
    private static string ShippedText() => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "edgemail.toml"));

    [Fact]
    public void The_embedded_config_is_the_shipped_file()
    {
        Assert.Equal(ShippedText(), ConfigLoader.EmbeddedText());
    }

    [Fact]
    public void The_shipped_config_loads_and_listens_on_loopback_2525_with_a_local_spool_folder()
    {
        EdgeMailConfig config = ConfigLoader.LoadEmbedded("/home/pi");

        Assert.Equal(["127.0.0.1:2525"], config.Server.Listen);
        Assert.Equal("/home/pi/spool", config.Spool.Directory);
        Assert.Empty(config.Relay.Upstream);
    }

    [Fact]
    public void The_shipped_values_are_the_built_in_defaults()
    {
        // A key left out of a user's file must mean what the shipped file says it means.
        EdgeMailConfig shipped = ConfigLoader.LoadEmbedded("/x");
        EdgeMailConfig empty = ConfigLoader.Parse("", "empty.toml", "/x");

        Assert.Equal(Tomlyn.TomlSerializer.Serialize(empty, EdgeMailTomlContext.Default.EdgeMailConfig),
                     Tomlyn.TomlSerializer.Serialize(shipped, EdgeMailTomlContext.Default.EdgeMailConfig));
    }

    [Fact]
    public void Every_schema_key_is_set_and_commented_in_the_shipped_config()
    {
        string[] lines = ShippedText().Split('\n');
        foreach (ConfigSection section in ConfigSchema.Sections)
        {
            if (section.IsArray)
            {
                // [[x]] entries ship commented out (their default is "none"): the key list in the comment
                // block documents each key, and the commented examples set each one at least once.
                int first = Array.FindIndex(lines, l => l.Trim() == $"# [[{section.Name}]]");
                Assert.True(first >= 0, $"# [[{section.Name}]] is missing from edgemail.toml");
                foreach (ConfigKey key in section.Keys)
                {
                    Assert.True(Array.FindIndex(lines, l => l.StartsWith($"# {key.Name} ", StringComparison.Ordinal)
                        && !l.StartsWith($"# {key.Name} =", StringComparison.Ordinal)) >= 0, $"{section.Name}.{key.Name} is not described in edgemail.toml");
                    Assert.True(Array.FindIndex(lines, first, l => l.StartsWith($"# {key.Name} =", StringComparison.Ordinal)) > first,
                        $"{section.Name}.{key.Name} is in no commented [[{section.Name}]] example");
                }
                continue;
            }
            int header = Array.FindIndex(lines, l => l.Trim() == $"[{section.Name}]");
            Assert.True(header >= 0, $"[{section.Name}] is missing from edgemail.toml");
            foreach (ConfigKey key in section.Keys)
            {
                if (key.Type is ConfigValueType.TableMapType map)
                {
                    // Named tables ([relay.tls."URL"]) ship as a commented example that sets each of their keys.
                    int example = Array.FindIndex(lines, header, l => l.StartsWith($"#   [{section.Name}.{key.Name}.", StringComparison.Ordinal));
                    Assert.True(example > header, $"{section.Name}.{key.Name} has no commented example in edgemail.toml");
                    Assert.True(lines[example - 1].TrimStart().StartsWith('#'), $"{section.Name}.{key.Name} has no comment above its example");
                    foreach (ConfigKey entryKey in map.Keys)
                        Assert.True(Array.FindIndex(lines, example, l => l.StartsWith($"#   {entryKey.Name} =", StringComparison.Ordinal)) > example,
                            $"{section.Name}.{key.Name}: {entryKey.Name} is not in the commented example");
                    continue;
                }
                int at = Array.FindIndex(lines, header, l => l.StartsWith(key.Name + " =", StringComparison.Ordinal));
                Assert.True(at > header, $"{section.Name}.{key.Name} is not set in edgemail.toml");
                // A comment may cover a group of related keys written right below it.
                int above = at - 1;
                while (above > header && !lines[above].TrimStart().StartsWith('#') && lines[above].Contains(" = ", StringComparison.Ordinal)) above--;
                Assert.True(lines[above].TrimStart().StartsWith('#'), $"{section.Name}.{key.Name} has no comment above it");
            }
        }
    }

    [Fact]
    public void The_commented_relay_tls_example_loads_with_the_upstreams_it_names()
    {
        string[] lines = ShippedText().Split('\n');
        int first = Array.FindIndex(lines, l => l.StartsWith("#   [relay.tls.", StringComparison.Ordinal));
        var example = new List<string> { "[relay]", "upstream = [\"smtps://smtp.example.com\"]", "routes = [\"*.lan smtp+starttls://nas.lan\"]" };
        for (int i = first; i < lines.Length && lines[i].StartsWith('#'); i++)
            example.Add(lines[i].TrimStart('#').Trim());

        var relay = Hosting.Composition.Relay(ConfigLoader.Parse(string.Join('\n', example), "example.toml", "/x"), "h");

        Assert.Equal("/etc/edgemail/nas-ca.pem", relay.Routes[0].Upstreams[0].CaFile);
        Assert.Equal(64, relay.Upstreams[0].PinnedSha256!.Length);
    }

    [Fact]
    public void The_schema_lists_exactly_the_keys_of_the_model()
    {
        // Serialize the model (every property, via the source-generated context) and compare its keys
        // with the schema, so a property without a schema entry (or the reverse) cannot slip in.
        // One entry in each [[x]] list (with every optional key set), or the list's keys would not show.
        // The same for named tables ([relay.tls."URL"]): one entry named N.
        var model = new EdgeMailConfig { Leds = [new()], Sensors = [new()], Rules = [new() { Above = 1, Below = 2 }] };
        model.Relay.Tls["N"] = new();
        string toml = Tomlyn.TomlSerializer.Serialize(model, EdgeMailTomlContext.Default.EdgeMailConfig);
        var modelKeys = new SortedSet<string>();
        string? table = null;
        foreach (string raw in toml.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith('[')) table = line.Trim('[', ']');
            else if (line.Contains('=')) modelKeys.Add($"{table}.{line[..line.IndexOf('=')].Trim()}");
        }
        var schemaKeys = new SortedSet<string>(ConfigSchema.Sections.SelectMany(s => s.Keys.SelectMany(k =>
            k.Type is ConfigValueType.TableMapType map ? map.Keys.Select(e => $"{s.Name}.{k.Name}.N.{e.Name}") : [$"{s.Name}.{k.Name}"])));

        Assert.Equal(schemaKeys, modelKeys);
    }
}
