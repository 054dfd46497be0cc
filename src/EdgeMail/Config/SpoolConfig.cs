namespace EdgeMail.Config;

/// <summary>[spool] — the on-disk queue.</summary>
public sealed class SpoolConfig
{
    /// <summary>Relative paths resolve against the current directory when the config is loaded.</summary>
    public string Directory { get; set; } = "spool";
    /// <summary>0 = no limit besides <see cref="MinFree"/>.</summary>
    public ByteSize MaxSize { get; set; } = new(1L << 30);
    public ByteSize MinFree { get; set; } = new(64L << 20);

    public static ConfigSection Schema { get; } = new("spool",
    [
        new("directory", ConfigValueType.Text(s => s.Length == 0 ? "must not be empty" : s.Contains('\0') ? "contains a NUL" : null,
            "a folder path (relative paths are relative to the current directory)")),
        new("max_size", ConfigValueType.Size(0, long.MaxValue)),
        new("min_free", ConfigValueType.Size(0, long.MaxValue)),
    ]);
}
