using System.Globalization;
using Tomlyn.Syntax;

namespace EdgeMail.Config;

/// <summary>
/// What a config file may contain, checked on the syntax tree before Tomlyn maps it onto the model.
/// Tomlyn's serializer silently skips keys it does not know, and a typo in a mail server's config
/// ("max_recipient = 5") must not pass as "use the default". Working on the syntax tree also gives
/// every complaint a line and column.
///
/// Adding a section: one class under Config/ (with its static <c>Schema</c>), one property on
/// <see cref="EdgeMailConfig"/>, one line in <see cref="Sections"/>.
/// </summary>
public static class ConfigSchema
{
    public static IReadOnlyList<ConfigSection> Sections { get; } =
    [
        ServerConfig.Schema,
        SpoolConfig.Schema,
        RelayConfig.Schema,
        TlsConfig.Schema,
        AuthConfig.Schema,
        PolicyConfig.Schema,
        LimitsConfig.Schema,
        LogConfig.Schema,
        LedEntry.Schema,
        LedTimingConfig.Schema,
        AlertsConfig.Schema,
        SensorEntry.Schema,
        RuleEntry.Schema,
    ];

    public static ConfigSection? Find(string name)
    {
        foreach (ConfigSection section in Sections)
            if (section.Name == name) return section;
        return null;
    }
}

/// <param name="IsArray">true for an array of tables ([[sensors]]), false for a plain [table].</param>
public sealed record ConfigSection(string Name, IReadOnlyList<ConfigKey> Keys, bool IsArray = false)
{
    public ConfigKey? Find(string key)
    {
        foreach (ConfigKey k in Keys)
            if (k.Name == key) return k;
        return null;
    }

    public string KeyNames => string.Join(", ", Keys.Select(k => k.Name));
}

public sealed record ConfigKey(string Name, ConfigValueType Type);

/// <summary>A problem found in a value: what is wrong and the node it is about (for line and column).</summary>
public readonly record struct ValueProblem(string Message, SyntaxNode Node);

/// <summary>The type of a config value: what it accepts (checked on the syntax node) and how to say so.</summary>
public abstract class ConfigValueType
{
    public abstract string Allowed { get; }

    /// <returns>null when the value is acceptable.</returns>
    public abstract ValueProblem? Check(ValueSyntax value);

    public static ConfigValueType Integer(long min, long max) => new IntegerType(min, max);
    public static ConfigValueType Seconds(long min, long max) => new IntegerType(min, max, " seconds");
    public static ConfigValueType Boolean { get; } = new BooleanType();
    /// <summary>An integer or a float (a threshold: 80, -15, 0.5).</summary>
    public static ConfigValueType Number(double min, double max) => new NumberType(min, max);
    public static ConfigValueType Size(long min, long max) => new SizeType(min, max);
    public static ConfigValueType Text(Func<string, string?> check, string allowed) => new TextType(check, allowed);
    public static ConfigValueType OneOf(params string[] choices) => new TextType(
        s => choices.Contains(s) ? null : $"\"{s}\" is not one of them",
        "one of " + string.Join(", ", choices.Select(c => $"\"{c}\"")));
    public static ConfigValueType ListOf(ConfigValueType element, int minCount = 0) => new ListType(element, minCount);
    /// <summary>Tables named by the user ([relay.tls."smtps://host"]), each with <paramref name="keys"/>;
    /// <paramref name="checkName"/> says what is wrong with a name. The walker descends into it.</summary>
    public static ConfigValueType TableOf(IReadOnlyList<ConfigKey> keys, Func<string, string?> checkName, string nameAllowed) =>
        new TableMapType(keys, checkName, nameAllowed);

    internal static string Describe(ValueSyntax value) => value switch
    {
        StringValueSyntax => "a string",
        IntegerValueSyntax => "an integer",
        FloatValueSyntax => "a float",
        BooleanValueSyntax => "a boolean",
        ArraySyntax => "an array",
        InlineTableSyntax => "a table",
        DateTimeValueSyntax => "a date/time",
        _ => "an unexpected value",
    };

    private sealed class IntegerType(long min, long max, string unit = "") : ConfigValueType
    {
        public override string Allowed => max == long.MaxValue
            ? $"an integer >= {min}{unit}"
            : $"an integer from {min} to {max}{unit}";

        public override ValueProblem? Check(ValueSyntax value) => value switch
        {
            IntegerValueSyntax i when i.Value < min || i.Value > max =>
                new ValueProblem($"{i.Value.ToString(CultureInfo.InvariantCulture)} is out of range", value),
            IntegerValueSyntax => null,
            _ => new ValueProblem($"expected an integer, found {Describe(value)}", value),
        };
    }

    private sealed class NumberType(double min, double max) : ConfigValueType
    {
        public override string Allowed => $"a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}";

        public override ValueProblem? Check(ValueSyntax value)
        {
            double v;
            switch (value)
            {
                case IntegerValueSyntax i: v = i.Value; break;
                case FloatValueSyntax f: v = f.Value; break;
                default: return new ValueProblem($"expected a number, found {Describe(value)}", value);
            }
            return double.IsFinite(v) && v >= min && v <= max
                ? null
                : new ValueProblem($"{v.ToString(CultureInfo.InvariantCulture)} is out of range", value);
        }
    }

    private sealed class BooleanType : ConfigValueType
    {
        public override string Allowed => "true or false";

        public override ValueProblem? Check(ValueSyntax value) => value is BooleanValueSyntax
            ? null
            : new ValueProblem($"expected true or false, found {Describe(value)}", value);
    }

    private sealed class SizeType(long min, long max) : ConfigValueType
    {
        public override string Allowed => $"{ByteSize.Allowed}, from {new ByteSize(min)} to {new ByteSize(max)}";

        public override ValueProblem? Check(ValueSyntax value)
        {
            long bytes;
            switch (value)
            {
                case IntegerValueSyntax i:
                    bytes = i.Value;
                    break;
                case StringValueSyntax s:
                    if (ByteSize.TryParse(s.Value ?? "", out ByteSize size) is { } error)
                        return new ValueProblem(error, value);
                    bytes = size.Bytes;
                    break;
                default:
                    return new ValueProblem($"expected a size, found {Describe(value)}", value);
            }
            return bytes < min || bytes > max
                ? new ValueProblem($"{bytes.ToString(CultureInfo.InvariantCulture)} bytes is out of range", value)
                : null;
        }
    }

    private sealed class TextType(Func<string, string?> check, string allowed) : ConfigValueType
    {
        public override string Allowed => allowed;

        public override ValueProblem? Check(ValueSyntax value) => value is StringValueSyntax s
            ? check(s.Value ?? "") is { } error ? new ValueProblem(error, value) : null
            : new ValueProblem($"expected a string, found {Describe(value)}", value);
    }

    internal sealed class TableMapType(IReadOnlyList<ConfigKey> keys, Func<string, string?> checkName, string nameAllowed) : ConfigValueType
    {
        public IReadOnlyList<ConfigKey> Keys => keys;
        public string NameAllowed => nameAllowed;
        public string? CheckName(string name) => checkName(name);

        public ConfigKey? Find(string key)
        {
            foreach (ConfigKey k in keys)
                if (k.Name == key) return k;
            return null;
        }

        public string KeyNames => string.Join(", ", keys.Select(k => k.Name));

        public override string Allowed => $"a table per name ({nameAllowed}) with {KeyNames}";

        // The walker checks names and keys one by one (for their line and column); here only the shape.
        public override ValueProblem? Check(ValueSyntax value) => value is InlineTableSyntax
            ? null
            : new ValueProblem($"expected a table, found {Describe(value)}", value);
    }

    private sealed class ListType(ConfigValueType element, int minCount) : ConfigValueType
    {
        public override string Allowed => minCount > 0
            ? $"an array of at least {minCount} value(s), each {element.Allowed}"
            : $"an array, each value {element.Allowed}";

        public override ValueProblem? Check(ValueSyntax value)
        {
            if (value is not ArraySyntax array)
                return new ValueProblem($"expected an array, found {Describe(value)}", value);
            int count = 0;
            foreach (ArrayItemSyntax item in array.Items)
            {
                if (item.Value is { } v && element.Check(v) is { } problem)
                    return problem;
                count++;
            }
            return count < minCount ? new ValueProblem($"needs at least {minCount} value(s)", value) : null;
        }
    }
}
