namespace EdgeMail.Device.Leds;

public enum LedRole { Status, Queue, Error, Activity }

public enum LedPattern { Off, On, Heartbeat, SlowBlink, FastBlink, Flash }

/// <summary>Every duration the patterns use; all configurable ([leds_timing]).</summary>
public sealed class LedTimings
{
    /// <summary>Heartbeat: two short beats, then a pause, once per period.</summary>
    public TimeSpan HeartbeatBeat { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan HeartbeatPeriod { get; init; } = TimeSpan.FromMilliseconds(1500);
    public TimeSpan SlowBlink { get; init; } = TimeSpan.FromMilliseconds(1000);
    public TimeSpan FastBlink { get; init; } = TimeSpan.FromMilliseconds(125);
    public TimeSpan FlashOn { get; init; } = TimeSpan.FromMilliseconds(60);
    /// <summary>Dark time after a flash, so back-to-back messages are seen as separate flashes.</summary>
    public TimeSpan FlashGap { get; init; } = TimeSpan.FromMilliseconds(90);
}

/// <summary>One step of a pattern: the LED is lit (or not) for Duration.</summary>
public readonly record struct LedStep(bool Lit, TimeSpan Duration);

/// <summary>
/// THE table: which pattern each light shows for a device state, and what each pattern is.
/// Nothing else in the code knows what a light looks like.
/// </summary>
public static class LedPatterns
{
    /// <summary>Spool fill above which the error light comes on.</summary>
    public const double SpoolFullThreshold = 0.90;

    public static LedPattern For(LedRole role, DeviceStateSnapshot s) => role switch
    {
        // Steady on (not off) when unhealthy: "alive but unhappy" differs from "process dead".
        LedRole.Status => s.Unhealthy ? LedPattern.On : LedPattern.Heartbeat,
        LedRole.Queue => s.Delivering ? LedPattern.FastBlink
                       : s.DeferredCount > 0 || s.QueueDepth > 0 ? LedPattern.SlowBlink
                       : LedPattern.Off,
        LedRole.Error => s.Unhealthy ? LedPattern.On : LedPattern.Off,
        // Activity is driven by pulses, one Flash each (see StatusLights).
        LedRole.Activity => LedPattern.Off,
        _ => LedPattern.Off,
    };

    /// <summary>The steps of a pattern. Repeating patterns loop; Flash plays once; Off/On hold forever.</summary>
    public static LedStep[] Steps(LedPattern pattern, LedTimings t) => pattern switch
    {
        LedPattern.Off => [new(false, Timeout.InfiniteTimeSpan)],
        LedPattern.On => [new(true, Timeout.InfiniteTimeSpan)],
        LedPattern.Heartbeat => [new(true, t.HeartbeatBeat), new(false, t.HeartbeatBeat), new(true, t.HeartbeatBeat),
                                 new(false, Max(t.HeartbeatPeriod - 3 * t.HeartbeatBeat, t.HeartbeatBeat))],
        LedPattern.SlowBlink => [new(true, t.SlowBlink), new(false, t.SlowBlink)],
        LedPattern.FastBlink => [new(true, t.FastBlink), new(false, t.FastBlink)],
        LedPattern.Flash => [new(true, t.FlashOn), new(false, t.FlashGap)],
        _ => [new(false, Timeout.InfiniteTimeSpan)],
    };

    public static bool Repeats(LedPattern pattern) => pattern is LedPattern.Heartbeat or LedPattern.SlowBlink or LedPattern.FastBlink;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>A consistent copy of <see cref="DeviceState"/> taken once per update.</summary>
public readonly record struct DeviceStateSnapshot(
    int QueueDepth, int DeferredCount, bool Delivering, bool UpstreamFailing, double SpoolFillRatio, int SensorsLost)
{
    public bool Unhealthy => UpstreamFailing || SpoolFillRatio > LedPatterns.SpoolFullThreshold || SensorsLost > 0;

    public static DeviceStateSnapshot Of(DeviceState s) =>
        new(s.QueueDepth, s.DeferredCount, s.Delivering, s.UpstreamFailing, s.SpoolFillRatio, s.SensorsLost);
}
