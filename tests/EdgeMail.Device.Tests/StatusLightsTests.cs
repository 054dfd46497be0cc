using EdgeMail.Device.Leds;
using W = EdgeMail.Device.Tests.RecordingGpioDriver.PinWrite;

namespace EdgeMail.Device.Tests;

public class StatusLightsTests
{
    private const int StatusPin = 17, QueuePin = 27, ErrorPin = 22, ActivityPin = 23;
    private static readonly LedTimings Timings = new()
    {
        HeartbeatBeat = Ms(100), HeartbeatPeriod = Ms(1000), SlowBlink = Ms(500), FastBlink = Ms(100),
        FlashOn = Ms(50), FlashGap = Ms(50),
    };

    private readonly FakeClock _clock = new();
    private readonly DeviceState _state = new();
    private readonly RecordingGpioDriver _driver;
    private readonly StatusLights _lights;

    public StatusLightsTests()
    {
        _driver = new RecordingGpioDriver(_clock);
        _lights = Create(activeLow: false);
    }

    private StatusLights Create(bool activeLow, RecordingGpioDriver? driver = null) => new(new LedOptions
    {
        Timings = Timings,
        Leds =
        [
            new LedConfig { Role = LedRole.Status, Line = StatusPin, ActiveLow = activeLow },
            new LedConfig { Role = LedRole.Queue, Line = QueuePin, ActiveLow = activeLow },
            new LedConfig { Role = LedRole.Error, Line = ErrorPin, ActiveLow = activeLow },
            new LedConfig { Role = LedRole.Activity, Line = ActivityPin, ActiveLow = activeLow },
        ],
    }, _state, _clock, null, _ => driver ?? _driver);

    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>Runs the lights as RunAsync would: update, sleep exactly until the next change.</summary>
    private void RunUntil(int ms)
    {
        var stop = _clock.GetUtcNow() + Ms(ms);
        while (true)
        {
            var next = _lights.Update();
            var now = _clock.GetUtcNow();
            if (next == Timeout.InfiniteTimeSpan || now + next > stop)
            {
                _clock.Advance(stop - now);
                _lights.Update();
                return;
            }
            _clock.Advance(next);
        }
    }

    private W[] On(int pin) => _driver.Writes.Where(w => w.Line == pin).ToArray();
    private static W Lit(int ms, int pin) => new(Ms(ms), pin, true);
    private static W Dark(int ms, int pin) => new(Ms(ms), pin, false);

    [Fact]
    public void Every_light_starts_dark_when_its_line_is_opened()
    {
        Assert.Equal([Dark(0, StatusPin), Dark(0, QueuePin), Dark(0, ErrorPin), Dark(0, ActivityPin)], _driver.Writes);
    }

    [Fact]
    public void Status_light_beats_twice_per_period_while_healthy()
    {
        RunUntil(2000);
        Assert.Equal(
        [
            Dark(0, StatusPin),
            Lit(0, StatusPin), Dark(100, StatusPin), Lit(200, StatusPin), Dark(300, StatusPin),
            Lit(1000, StatusPin), Dark(1100, StatusPin), Lit(1200, StatusPin), Dark(1300, StatusPin),
            Lit(2000, StatusPin),
        ], On(StatusPin));
        Assert.Equal([Dark(0, QueuePin)], On(QueuePin));
        Assert.Equal([Dark(0, ErrorPin)], On(ErrorPin));
    }

    [Fact]
    public void Queue_light_is_off_when_empty_slow_while_waiting_for_retry_fast_while_delivering()
    {
        RunUntil(300);
        _state.QueueDepth = 1;
        _state.DeferredCount = 1;
        RunUntil(1200);   // slow blink from 300 ms: on 500, off 500
        _state.Delivering = true;
        RunUntil(300);    // fast blink from 1500 ms: on 100, off 100
        _state.Delivering = false;
        _state.DeferredCount = 0;
        _state.QueueDepth = 0;
        RunUntil(1000);
        Assert.Equal(
        [
            Dark(0, QueuePin),
            Lit(300, QueuePin), Dark(800, QueuePin), Lit(1300, QueuePin),   // slow: waiting for a retry
            Dark(1600, QueuePin), Lit(1700, QueuePin), Dark(1800, QueuePin), // fast: delivering (lit since 1300)
        ], On(QueuePin));
    }

    [Fact]
    public void Error_light_is_on_while_upstream_fails_spool_is_over_90_percent_or_a_sensor_is_lost()
    {
        RunUntil(100);
        _state.UpstreamFailing = true;
        RunUntil(100);
        _state.UpstreamFailing = false;
        RunUntil(100);
        _state.SpoolFillRatio = 0.90;   // at the threshold: still fine
        RunUntil(100);
        _state.SpoolFillRatio = 0.95;
        RunUntil(100);
        _state.SpoolFillRatio = 0.5;
        _state.SensorsLost = 1;
        RunUntil(100);
        _state.SensorsLost = 0;
        RunUntil(100);
        Assert.Equal(
        [
            Dark(0, ErrorPin),
            Lit(100, ErrorPin), Dark(200, ErrorPin),    // upstream failing
            Lit(400, ErrorPin),                         // spool 95 % full (90 % is still fine)
            Dark(600, ErrorPin),                        // ...then a sensor lost, until 600
        ], On(ErrorPin));
    }

    [Fact]
    public void Status_light_holds_steady_while_unhealthy_and_beats_again_when_healthy()
    {
        RunUntil(150);               // lit 0, dark 100
        _state.UpstreamFailing = true;
        RunUntil(1000);              // steady on from 150
        _state.UpstreamFailing = false;
        RunUntil(250);               // heartbeat restarts at 1150
        Assert.Equal(
        [
            Dark(0, StatusPin), Lit(0, StatusPin), Dark(100, StatusPin),
            Lit(150, StatusPin),
            Dark(1250, StatusPin), Lit(1350, StatusPin),
        ], On(StatusPin));
    }

    [Fact]
    public void Activity_light_flashes_once_per_message()
    {
        RunUntil(100);
        _state.Pulse();
        _state.Pulse();
        _state.Pulse();
        RunUntil(500);
        Assert.Equal(
        [
            Dark(0, ActivityPin),
            Lit(100, ActivityPin), Dark(150, ActivityPin),
            Lit(200, ActivityPin), Dark(250, ActivityPin),
            Lit(300, ActivityPin), Dark(350, ActivityPin),
        ], On(ActivityPin));
    }

    [Fact]
    public void A_burst_of_messages_shows_a_bounded_number_of_flashes()
    {
        for (var i = 0; i < 1000; i++)
            _state.Pulse();
        RunUntil(5000);
        Assert.Equal(4, On(ActivityPin).Count(w => w.High));
    }

    [Fact]
    public void Active_low_lights_are_lit_by_driving_the_line_low()
    {
        var driver = new RecordingGpioDriver(_clock);
        using var lights = Create(activeLow: true, driver);
        _state.UpstreamFailing = true;
        lights.Update();
        Assert.Contains(new W(TimeSpan.Zero, ErrorPin, false), driver.Writes);
        Assert.Equal(new W(TimeSpan.Zero, ErrorPin, true), driver.Writes.First(w => w.Line == ErrorPin));
    }

    [Fact]
    public void Lights_go_dark_when_disposed()
    {
        _state.UpstreamFailing = true;
        _lights.Update();
        _lights.Dispose();
        Assert.Equal(Dark(0, ErrorPin), _driver.Writes.Last(w => w.Line == ErrorPin));
    }

    [Fact]
    public void Without_a_gpio_chip_the_lights_are_off_with_one_log_line_and_nothing_fails()
    {
        var log = new ListLogger();
        using var lights = StatusLights.Open(new LedOptions
        {
            Leds = [new LedConfig { Role = LedRole.Status, Chip = 97, Line = 17 }, new LedConfig { Role = LedRole.Error, Chip = 97, Line = 22 }],
        }, _state, _clock, log);
        Assert.False(lights.HasOutputs);
        Assert.Equal(Timeout.InfiniteTimeSpan, lights.Update());
        var line = Assert.Single(log.Lines);
        Assert.Contains("LEDs are off", line.Text);
        Assert.Contains("/dev/gpiochip97", line.Text);
    }

    [Fact]
    public async Task RunAsync_reacts_to_a_state_change_without_waiting_for_a_timer()
    {
        var errorLit = new TaskCompletionSource();
        _driver.Written += w => { if (w == Lit(0, ErrorPin)) errorLit.TrySetResult(); };
        using var cts = new CancellationTokenSource();
        var run = _lights.RunAsync(cts.Token);
        // The fake clock never moves here: only the state change can wake the loop.
        _state.UpstreamFailing = true;
        await errorLit.Task.WaitAsync(TimeSpan.FromSeconds(30));
        cts.Cancel();
        await run;
    }
}
