using Microsoft.Extensions.Logging;

namespace EdgeMail.Config;

/// <summary>[log] — how much goes to stderr (journald on the device).</summary>
public sealed class LogConfig
{
    public string Level { get; set; } = "info";

    public static ConfigSection Schema { get; } = new("log",
    [
        new("level", ConfigValueType.OneOf("debug", "info", "warning", "error")),
    ]);

    public LogLevel MinimumLevel() => Level switch
    {
        "debug" => LogLevel.Debug,
        "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Information,
    };
}
