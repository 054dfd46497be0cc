using System.Reflection;
using Tomlyn;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace EdgeMail.Config;

/// <summary>
/// Reads edgemail.toml in three steps: TOML syntax (Tomlyn's parser, with its spans) → our schema
/// (unknown sections and keys, value types and ranges, each with line and column) → Tomlyn's
/// source-generated serializer onto <see cref="EdgeMailConfig"/>. No process-wide state: the caller
/// passes the directory that relative paths resolve against.
/// </summary>
public static class ConfigLoader
{
    public const string EmbeddedName = "edgemail.toml";

    /// <exception cref="ConfigException">unreadable file, bad syntax, unknown key or bad value.</exception>
    public static EdgeMailConfig LoadFile(string path, string currentDirectory)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.GetFullPath(path, currentDirectory));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(null, $"cannot read the config file: {e.Message}", source: path);
        }
        return Parse(text, path, currentDirectory);
    }

    /// <summary>The firmware default config compiled into the binary (firmware-config/edgemail.toml).</summary>
    public static EdgeMailConfig LoadEmbedded(string currentDirectory) =>
        Parse(EmbeddedText(), "(embedded) " + EmbeddedName, currentDirectory);

    public static string EmbeddedText()
    {
        using Stream stream = typeof(ConfigLoader).Assembly.GetManifestResourceStream(EmbeddedName)
            ?? throw new InvalidOperationException("the embedded edgemail.toml is missing from this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static EdgeMailConfig Parse(string text, string sourceName, string currentDirectory)
    {
        DocumentSyntax document = SyntaxParser.Parse(text, sourceName, validate: true);
        foreach (DiagnosticMessage message in document.Diagnostics)
        {
            if (message.Kind == DiagnosticMessageKind.Error)
                throw new ConfigException(null, "TOML syntax error: " + message.Message, null,
                    sourceName, message.Span.Start.Line + 1, message.Span.Start.Column + 1);
        }

        var locations = new ConfigLocations(sourceName);
        new SchemaWalker(sourceName, locations).Check(document);

        EdgeMailConfig config;
        try
        {
            config = TomlSerializer.Deserialize(text, EdgeMailTomlContext.Default.EdgeMailConfig) ?? new EdgeMailConfig();
        }
        catch (TomlException e)
        {
            // The schema should have caught everything; if Tomlyn still disagrees, say where.
            string problem = e.Diagnostics is { Count: > 0 } d ? d[0].Message : e.Message;
            throw new ConfigException(null, problem, null, sourceName, e.Line ?? 0, e.Column ?? 0);
        }

        config.Spool.Directory = Path.GetFullPath(config.Spool.Directory, currentDirectory);
        DeviceSections.Validate(config, locations);
        config.Relay.Validate(locations);
        return config;
    }

    /// <summary>Checks every key and value of the document against <see cref="ConfigSchema"/>.</summary>
    private sealed class SchemaWalker(string sourceName, ConfigLocations locations)
    {
        private readonly Dictionary<string, int> _arrayCounts = new(StringComparer.Ordinal);

        private static readonly string SectionNames =
            string.Join(", ", ConfigSchema.Sections.Select(s => s.IsArray ? $"[[{s.Name}]]" : $"[{s.Name}]"));

        public void Check(DocumentSyntax document)
        {
            // Keys before the first [table]: only dotted (server.hostname = ...) or inline-table
            // (server = { ... }) forms can address a section from there.
            foreach (KeyValueSyntax kv in document.KeyValues)
            {
                List<(string Name, SyntaxNode Node)> path = KeyPath(kv.Key!);
                CheckAt(Section(path[0], arrayForm: null), path.Skip(1).ToList(), kv.Value!, path[0].Node);
            }

            foreach (TableSyntaxBase table in document.Tables)
            {
                List<(string Name, SyntaxNode Node)> name = KeyPath(table.Name!);
                ConfigSection section = Section(name[0], arrayForm: table is TableArraySyntax);
                // [relay.tls] or [relay.tls."URL"]: a table below the section is only one of its named tables.
                List<(string Name, SyntaxNode Node)> prefix = name.GetRange(1, name.Count - 1);
                if (prefix.Count > 0)
                {
                    if (section.IsArray || prefix.Count > 2 || section.Find(prefix[0].Name)?.Type is not ConfigValueType.TableMapType map)
                        throw Error(name[1].Node, $"{section.Name}.{name[1].Name}", $"unknown table [{Dotted(name)}]", $"keys of [{section.Name}]: {section.KeyNames}");
                    if (prefix.Count == 2) CheckName(section, map, prefix[0].Name, prefix[1]);
                    foreach (KeyValueSyntax kv in table.Items)
                        CheckAt(section, [.. prefix, .. KeyPath(kv.Key!)], kv.Value!, kv.Key!);
                    continue;
                }
                int index = -1;
                if (section.IsArray)
                {
                    index = _arrayCounts.GetValueOrDefault(section.Name);
                    _arrayCounts[section.Name] = index + 1;
                    Locate(section.Name, index, "", name[0].Node);
                }
                foreach (KeyValueSyntax kv in table.Items)
                {
                    List<(string Name, SyntaxNode Node)> key = KeyPath(kv.Key!);
                    Locate(section.Name, index, key[0].Name, kv.Key!);
                    CheckAt(section, key, kv.Value!, kv.Key!);
                }
            }
        }

        private ConfigSection Section((string Name, SyntaxNode Node) key, bool? arrayForm)
        {
            ConfigSection section = ConfigSchema.Find(key.Name)
                ?? throw Error(key.Node, key.Name, $"unknown section or top-level key \"{key.Name}\"", "sections " + SectionNames);
            if (arrayForm is { } isArray && isArray != section.IsArray)
                throw Error(key.Node, key.Name, section.IsArray ? $"[{key.Name}] is a list of tables" : $"[{key.Name}] is a single table",
                    section.IsArray ? $"[[{key.Name}]]" : $"[{key.Name}]");
            return section;
        }

        /// <param name="rest">the key path below the section; empty when the value is the section itself.</param>
        private void CheckAt(ConfigSection section, List<(string Name, SyntaxNode Node)> rest, ValueSyntax value, SyntaxNode where)
        {
            if (rest.Count == 0)
            {
                if (value is not InlineTableSyntax inline || section.IsArray)
                    throw Error(where, section.Name, $"expected a table, found {ConfigValueType.Describe(value)}", $"[{section.Name}]");
                foreach (InlineTableItemSyntax item in inline.Items)
                    CheckAt(section, KeyPath(item.KeyValue!.Key!), item.KeyValue.Value!, item.KeyValue.Key!);
                return;
            }

            string fullName = $"{section.Name}.{Dotted(rest)}";
            ConfigKey? key = section.Find(rest[0].Name);
            if (key?.Type is ConfigValueType.TableMapType map)
            {
                CheckNamedTables(section, map, rest, value, fullName);
                return;
            }
            if (key is null || rest.Count != 1)
                throw Error(rest[0].Node, fullName, $"unknown key \"{fullName}\"", $"keys of [{section.Name}]: {section.KeyNames}");
            if (key.Type.Check(value) is { } problem)
                throw Error(problem.Node, fullName, problem.Message, key.Type.Allowed);
        }

        /// <summary><paramref name="rest"/> starts with the key of the named tables (tls), then maybe a name, then maybe a key.</summary>
        private void CheckNamedTables(ConfigSection section, ConfigValueType.TableMapType map, List<(string Name, SyntaxNode Node)> rest,
            ValueSyntax value, string fullName)
        {
            if (rest.Count >= 2) CheckName(section, map, rest[0].Name, rest[1]);
            if (rest.Count <= 2)
            {
                if (value is not InlineTableSyntax inline)
                    throw Error(value, fullName, $"expected a table, found {ConfigValueType.Describe(value)}", map.Allowed);
                foreach (InlineTableItemSyntax item in inline.Items)
                    CheckAt(section, [.. rest, .. KeyPath(item.KeyValue!.Key!)], item.KeyValue.Value!, item.KeyValue.Key!);
                return;
            }
            ConfigKey key = (rest.Count == 3 ? map.Find(rest[2].Name) : null)
                ?? throw Error(rest[2].Node, fullName, $"unknown key \"{fullName}\"", $"keys of [{section.Name}.{rest[0].Name}.NAME]: {map.KeyNames}");
            if (key.Type.Check(value) is { } problem)
                throw Error(problem.Node, fullName, problem.Message, key.Type.Allowed);
        }

        private void CheckName(ConfigSection section, ConfigValueType.TableMapType map, string mapKey, (string Name, SyntaxNode Node) name)
        {
            // The problem quotes the name as far as it is safe to (an upstream URL without its password).
            if (map.CheckName(name.Name) is { } problem)
                throw Error(name.Node, $"{section.Name}.{mapKey}", problem, map.NameAllowed);
            Locate(section.Name, -1, mapKey + "." + name.Name, name.Node);
        }

        /// <summary>A key path as TOML writes it: bare keys as they are, any other in quotes.</summary>
        private static string Dotted(List<(string Name, SyntaxNode Node)> path)
        {
            var text = new System.Text.StringBuilder();
            foreach (var (name, _) in path)
                text.Append(text.Length > 0 ? "." : "").Append(Quoted(name));
            return text.ToString();
        }

        private static string Quoted(string name)
        {
            foreach (char c in name)
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-')) return $"\"{name}\"";
            return name;
        }

        private void Locate(string section, int index, string key, SyntaxNode node) =>
            locations.Add(section, index, key, node.Span.Start.Line + 1, node.Span.Start.Column + 1);

        private ConfigException Error(SyntaxNode node, string key, string problem, string allowed) =>
            new(key, problem, allowed, sourceName, node.Span.Start.Line + 1, node.Span.Start.Column + 1);

        private static List<(string Name, SyntaxNode Node)> KeyPath(KeySyntax key)
        {
            var path = new List<(string, SyntaxNode)> { (KeyText(key.Key!), key.Key!) };
            foreach (DottedKeyItemSyntax dotted in key.DotKeys)
                path.Add((KeyText(dotted.Key!), dotted.Key!));
            return path;
        }

        private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
        {
            BareKeySyntax bare => bare.Key?.Text ?? "",
            StringValueSyntax quoted => quoted.Value ?? "",
            _ => key.ToString() ?? "",
        };
    }
}
