namespace EdgeMail.Device.Alerts;

/// <summary>One [[rules]] entry. Exactly one of Above/Below is set.</summary>
public sealed class AlertRule
{
    public required string Name { get; init; }
    /// <summary>The sensor's name ([[sensors]] name).</summary>
    public required string Source { get; init; }
    /// <summary>Fires while the reading is greater than this.</summary>
    public double? Above { get; init; }
    /// <summary>Fires while the reading is less than this.</summary>
    public double? Below { get; init; }
    /// <summary>Clears only once the reading is this far back on the good side of the threshold,
    /// so a value wobbling around the threshold does not alternate alert/resolved.</summary>
    public double Hysteresis { get; init; }
    /// <summary>The condition must hold continuously this long before the rule fires.</summary>
    public TimeSpan For { get; init; }
    public required IReadOnlyList<string> To { get; init; }
    /// <summary>Placeholders: {state} ALERT/RESOLVED, {rule}, {source}, {value}, {unit}, {condition}
    /// above/below, {threshold}, {host}.</summary>
    public string Subject { get; init; } = DefaultSubject;
    /// <summary>At most one mail per this period per rule.</summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Send a "resolved" mail when the condition clears.</summary>
    public bool Resolved { get; init; } = true;

    public const string DefaultSubject = "[{host}] {state}: {rule} - {source} {value}{unit} ({condition} {threshold}{unit})";

    /// <summary>A configuration error, or null. Checked when the config is loaded.</summary>
    public string? Validate()
    {
        if (Above.HasValue == Below.HasValue)
            return $"rule {Name}: set exactly one of above or below";
        if (Hysteresis < 0 || For < TimeSpan.Zero || Cooldown < TimeSpan.Zero)
            return $"rule {Name}: hysteresis, for and cooldown cannot be negative";
        if (To.Count == 0)
            return $"rule {Name}: no recipients (to)";
        return null;
    }

    internal double Threshold => Above ?? Below!.Value;
    internal string Condition => Above.HasValue ? "above" : "below";

    internal bool Triggered(double v) => Above is { } a ? v > a : v < Below!.Value;

    internal bool Cleared(double v) => Above is { } a ? v <= a - Hysteresis : v >= Below!.Value + Hysteresis;
}

public sealed class DigestOptions
{
    /// <summary>Local time of day at which the digest goes out.</summary>
    public TimeOnly At { get; init; } = new(8, 0);
    public required IReadOnlyList<string> To { get; init; }
}

public sealed class AlertOptions
{
    /// <summary>Envelope sender and From: of every alert.</summary>
    public required string From { get; init; }
    /// <summary>Appears in subjects and bodies, and in Message-IDs.</summary>
    public string HostName { get; init; } = Environment.MachineName;
    public IReadOnlyList<AlertRule> Rules { get; init; } = [];
    /// <summary>Who hears about a lost sensor; empty = the recipients of the rules that use it.</summary>
    public IReadOnlyList<string> LostTo { get; init; } = [];
    /// <summary>At most one lost/back mail per sensor per this period.</summary>
    public TimeSpan LostCooldown { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);
    public DigestOptions? Digest { get; init; }
}
