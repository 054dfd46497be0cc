using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Device.Leds;

/// <summary>
/// Drives the status LEDs from a <see cref="DeviceState"/>. <see cref="Update"/> sets every light for
/// the current time and returns how long until the next change, so the loop sleeps exactly that long
/// (or until the state changes) and tests step a fake clock through the exact sequence of writes.
/// Without GPIO hardware it runs with no outputs: the rest of the daemon never notices.
/// </summary>
public sealed class StatusLights : IDisposable
{
    private sealed class Light(LedConfig config, GpioController controller)
    {
        public readonly LedConfig Config = config;
        public readonly GpioController Controller = controller;
        public LedPattern Pattern = LedPattern.Off;
        public DateTimeOffset Start;
        public bool? Written;
        public bool Failed;
    }

    private readonly LedOptions _options;
    private readonly DeviceState _state;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<Light> _lights = [];
    private readonly List<GpioController> _controllers = [];
    private readonly LedStep[][] _steps;
    private readonly Lock _lock = new();
    private long _pulsesShown;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Opens the configured lines through libgpiod (v2 ABI first, then v1). When that fails, logs
    /// ONE line saying the LEDs are off and why, and returns lights without outputs.
    /// </summary>
    public static StatusLights Open(LedOptions options, DeviceState state, TimeProvider? time = null, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        var reasons = new List<string>();
        var lights = new StatusLights(options, state, time ?? TimeProvider.System, logger, chip =>
        {
            var driver = OpenLibgpiod(chip, out var reason);
            if (driver is null)
                reasons.Add(reason);
            return driver;
        });
        if (reasons.Count > 0)
            logger.LogWarning("Status LEDs are off: {Reason}", string.Join("; ", reasons));
        return lights;
    }

    /// <summary>For tests and for callers that bring their own driver.</summary>
    internal StatusLights(LedOptions options, DeviceState state, TimeProvider time, ILogger? logger, Func<int, GpioDriver?> driverForChip)
    {
        _options = options;
        _state = state;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _steps = new LedStep[Enum.GetValues<LedPattern>().Length][];
        foreach (var p in Enum.GetValues<LedPattern>())
            _steps[(int)p] = LedPatterns.Steps(p, options.Timings);

        var byChip = new Dictionary<int, GpioController?>();
        foreach (var config in options.Leds)
        {
            if (!byChip.TryGetValue(config.Chip, out var controller))
            {
                var driver = driverForChip(config.Chip);
                controller = driver is null ? null : new GpioController(driver);
                byChip[config.Chip] = controller;
                if (controller is not null)
                    _controllers.Add(controller);
            }
            if (controller is null)
                continue;
            try
            {
                controller.OpenPin(config.Line, PinMode.Output, Level(false, config.ActiveLow));
                _lights.Add(new Light(config, controller) { Written = false, Start = time.GetUtcNow() });
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
            {
                _logger.LogWarning("Status LED {Role} is off: cannot open GPIO chip {Chip} line {Line}: {Reason}",
                    config.Role, config.Chip, config.Line, e.Message);
            }
        }
        state.Changed += OnStateChanged;
    }

    /// <summary>True when at least one light is driven.</summary>
    public bool HasOutputs => _lights.Count > 0;

    /// <summary>What each driven light shows now (for `edgemail status`).</summary>
    public IReadOnlyList<(LedRole Role, LedPattern Pattern, bool Lit)> Snapshot()
    {
        lock (_lock)
        {
            var lights = new (LedRole Role, LedPattern Pattern, bool Lit)[_lights.Count];
            for (int i = 0; i < lights.Length; i++)
                lights[i] = (_lights[i].Config.Role, _lights[i].Pattern, _lights[i].Written ?? false);
            return lights;
        }
    }

    /// <summary>Sets every light for the current time; returns the time until the next change
    /// (<see cref="Timeout.InfiniteTimeSpan"/> when nothing changes until the state does).</summary>
    public TimeSpan Update()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var snapshot = DeviceStateSnapshot.Of(_state);
            var next = Timeout.InfiniteTimeSpan;
            foreach (var light in _lights)
            {
                if (light.Failed)
                    continue;
                if (light.Config.Role == LedRole.Activity)
                    ChooseFlash(light, now);
                else
                {
                    var desired = LedPatterns.For(light.Config.Role, snapshot);
                    if (desired != light.Pattern)
                    {
                        light.Pattern = desired;
                        light.Start = now;
                    }
                }
                var (lit, remaining) = LevelAt(light.Pattern, now - light.Start);
                if (light.Written != lit)
                    Write(light, lit);
                if (remaining != Timeout.InfiniteTimeSpan && (next == Timeout.InfiniteTimeSpan || remaining < next))
                    next = remaining;
            }
            return next;
        }
    }

    /// <summary>Updates until cancelled, sleeping until the next pattern step or a state change.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Task wake;
            lock (_lock)
                wake = _wake.Task;
            var delay = Update();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sleep = Task.Delay(delay, _time, cts.Token);
            await Task.WhenAny(sleep, wake).ConfigureAwait(false);
            cts.Cancel();
            lock (_lock)
                if (_wake.Task.IsCompleted)
                    _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private void OnStateChanged()
    {
        TaskCompletionSource wake;
        lock (_lock)
            wake = _wake;
        wake.TrySetResult();
    }

    private void ChooseFlash(Light light, DateTimeOffset now)
    {
        var t = _options.Timings;
        if (light.Pattern == LedPattern.Flash && now - light.Start < t.FlashOn + t.FlashGap)
            return;
        var pulses = _state.ActivityPulses;
        // Bounded: a burst of a thousand messages is shown as a few flashes, not minutes of them.
        if (pulses - _pulsesShown > _options.MaxPendingFlashes)
            _pulsesShown = pulses - _options.MaxPendingFlashes;
        if (pulses > _pulsesShown)
        {
            _pulsesShown++;
            light.Pattern = LedPattern.Flash;
            light.Start = now;
        }
        else if (light.Pattern != LedPattern.Off)
        {
            light.Pattern = LedPattern.Off;
            light.Start = now;
        }
    }

    private (bool Lit, TimeSpan Remaining) LevelAt(LedPattern pattern, TimeSpan elapsed)
    {
        var steps = _steps[(int)pattern];
        if (LedPatterns.Repeats(pattern))
        {
            var period = TimeSpan.Zero;
            foreach (var s in steps)
                period += s.Duration;
            elapsed = TimeSpan.FromTicks(elapsed.Ticks % period.Ticks);
        }
        var end = TimeSpan.Zero;
        foreach (var step in steps)
        {
            if (step.Duration == Timeout.InfiniteTimeSpan)
                return (step.Lit, Timeout.InfiniteTimeSpan);
            end += step.Duration;
            if (elapsed < end)
                return (step.Lit, end - elapsed);
        }
        // A one-shot pattern that has played out: dark until something new happens.
        return (false, Timeout.InfiniteTimeSpan);
    }

    private void Write(Light light, bool lit)
    {
        try
        {
            light.Controller.Write(light.Config.Line, Level(lit, light.Config.ActiveLow));
            light.Written = lit;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            light.Failed = true;
            _logger.LogWarning("Status LED {Role} is off: writing GPIO line {Line} failed: {Reason}",
                light.Config.Role, light.Config.Line, e.Message);
        }
    }

    private static PinValue Level(bool lit, bool activeLow) => lit != activeLow ? PinValue.High : PinValue.Low;

    internal static GpioDriver? OpenLibgpiod(int chip, out string reason)
    {
        var device = $"/dev/gpiochip{chip}";
        if (!File.Exists(device))
        {
            reason = $"no GPIO chip {device}";
            return null;
        }
        string v2, v1;
        reason = "";
        // libgpiod 2.x (libgpiod.so.3, Debian 13 / Raspberry Pi OS trixie) first, then 1.x (libgpiod.so.2).
        try { return LibGpiodV2Driver(chip); }
        catch (Exception e) { v2 = e.GetType().Name + ": " + e.Message; }
        try { return new LibGpiodDriver(chip); }
        catch (Exception e) { v1 = e.GetType().Name + ": " + e.Message; }
        reason = $"libgpiod not usable for {device} (v2: {v2}; v1: {v1}); install the libgpiod package";
        return null;
    }

    private static GpioDriver LibGpiodV2Driver(int chip) => new LibGpiodV2Driver(chip);

    public void Dispose()
    {
        _state.Changed -= OnStateChanged;
        lock (_lock)
        {
            foreach (var light in _lights)
                if (!light.Failed && light.Written == true)
                    Write(light, false);
            _lights.Clear();
            foreach (var c in _controllers)
                c.Dispose();
            _controllers.Clear();
        }
    }
}
