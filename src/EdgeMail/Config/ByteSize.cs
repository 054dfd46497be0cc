using System.Globalization;

namespace EdgeMail.Config;

/// <summary>
/// A size in bytes as written in the config file or on the command line: a TOML integer (bytes) or a
/// string with a unit. Binary units (K, KiB, M, MiB, G, GiB, T, TiB) are powers of 1024, as systemd and
/// most Unix tools read them; the explicit decimal SI units (kB/KB, MB, GB, TB) are powers of 1000.
/// One parser serves the TOML loader and the CLI.
/// </summary>
// Mapped from TOML by ByteSizeTomlConverter, registered on EdgeMailTomlContext.
public readonly record struct ByteSize(long Bytes)
{
    public const string Allowed =
        "an integer number of bytes, or a string such as \"25MiB\", \"64M\", \"512KiB\", \"1G\" "
        + "(K/M/G/T and KiB/MiB/GiB/TiB = 1024-based, kB/MB/GB/TB = 1000-based)";

    private static readonly (string Unit, long Factor)[] Units =
    [
        ("B", 1),
        ("K", 1L << 10), ("KIB", 1L << 10), ("KB", 1000),
        ("M", 1L << 20), ("MIB", 1L << 20), ("MB", 1000_000),
        ("G", 1L << 30), ("GIB", 1L << 30), ("GB", 1000_000_000),
        ("T", 1L << 40), ("TIB", 1L << 40), ("TB", 1000_000_000_000),
    ];

    /// <summary>Parses "25MiB", "64M", "1048576", "10 kB". Returns an error text (null on success).</summary>
    public static string? TryParse(string text, out ByteSize size)
    {
        size = default;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        int digits = 0;
        while (digits < s.Length && char.IsAsciiDigit(s[digits])) digits++;
        if (digits == 0)
            return $"\"{text}\" is not a size";
        if (!long.TryParse(s[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            return $"\"{text}\" is too large";
        ReadOnlySpan<char> unit = s[digits..].TrimStart();
        long factor = 1;
        if (!unit.IsEmpty)
        {
            factor = 0;
            foreach ((string name, long f) in Units)
            {
                if (unit.Equals(name, StringComparison.OrdinalIgnoreCase)) { factor = f; break; }
            }
            if (factor == 0)
                return $"\"{text}\" has an unknown unit \"{unit}\"";
        }
        if (number > long.MaxValue / factor)
            return $"\"{text}\" is too large";
        size = new ByteSize(number * factor);
        return null;
    }

    /// <summary>The shortest exact binary form: 26214400 → "25MiB"; odd sizes stay in bytes.</summary>
    public override string ToString()
    {
        string[] names = ["TiB", "GiB", "MiB", "KiB"];
        for (int i = 0; i < names.Length; i++)
        {
            long factor = 1L << (10 * (4 - i));
            if (Bytes != 0 && Bytes % factor == 0) return $"{Bytes / factor}{names[i]}";
        }
        return Bytes.ToString(CultureInfo.InvariantCulture);
    }
}
