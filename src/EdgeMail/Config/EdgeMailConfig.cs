using System.Text.Json.Serialization;
using Tomlyn.Serialization;

namespace EdgeMail.Config;

/// <summary>The whole config file. A new section is a property here plus its entry in <see cref="ConfigSchema"/>.</summary>
public sealed class EdgeMailConfig
{
    public ServerConfig Server { get; set; } = new();
    public SpoolConfig Spool { get; set; } = new();
    public RelayConfig Relay { get; set; } = new();
    public TlsConfig Tls { get; set; } = new();
    public AuthConfig Auth { get; set; } = new();
    public PolicyConfig Policy { get; set; } = new();
    public LimitsConfig Limits { get; set; } = new();
    public LogConfig Log { get; set; } = new();
    public List<LedEntry> Leds { get; set; } = [];
    public LedTimingConfig LedsTiming { get; set; } = new();
    public AlertsConfig Alerts { get; set; } = new();
    public List<SensorEntry> Sensors { get; set; } = [];
    public List<RuleEntry> Rules { get; set; } = [];
}

// TOML keys are snake_case (max_message_size); the generator maps them at compile time, no reflection.
[TomlSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, Converters = [typeof(ByteSizeTomlConverter)])]
[TomlSerializable(typeof(EdgeMailConfig))]
internal partial class EdgeMailTomlContext : TomlSerializerContext
{
}
