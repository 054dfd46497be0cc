namespace EdgeMail.Device.Leds;

/// <summary>One light: which GPIO line drives it (a [[leds]] entry: name, chip, line, active_low).</summary>
public sealed class LedConfig
{
    public required LedRole Role { get; init; }
    /// <summary>GPIO chip number: /dev/gpiochipN (0 on every Pi model up to 4; see the README, "Put it on a Raspberry Pi", for the Pi 5).</summary>
    public int Chip { get; init; }
    /// <summary>Line offset on that chip; on a Pi the BCM GPIO number.</summary>
    public required int Line { get; init; }
    /// <summary>True when the LED is wired from 3.3 V to the pin (lit when the pin is low).</summary>
    public bool ActiveLow { get; init; }
}

public sealed class LedOptions
{
    public IReadOnlyList<LedConfig> Leds { get; init; } = [];
    public LedTimings Timings { get; init; } = new();
    /// <summary>Activity pulses remembered while a flash is showing; more are dropped (bounded).</summary>
    public int MaxPendingFlashes { get; init; } = 4;
}
