using System.Device.Gpio;

namespace EdgeMail.Device.Sensors;

/// <summary>
/// A contact on a GPIO input: 1 while active (door open, water detected, button held), else 0.
/// Edges arrive as libgpiod events; a new level counts only after it has held for the debounce time,
/// so contact bounce and short glitches never reach the rules.
/// </summary>
internal sealed class GpioInputSensor : Sensor
{
    private readonly GpioController _controller;
    private readonly SensorConfig _config;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private bool _stable;            // debounced, active = true
    private bool _candidate;
    private DateTimeOffset? _candidateSince;

    public GpioInputSensor(SensorConfig config, GpioController controller, TimeProvider time) : base(config.Name, "")
    {
        _config = config;
        _controller = controller;
        _time = time;
        var mode = config.Pull switch
        {
            "up" => PinMode.InputPullUp,
            "down" => PinMode.InputPullDown,
            _ => PinMode.Input,
        };
        controller.OpenPin(config.Line, mode);
        _stable = _candidate = Active(controller.Read(config.Line));
        controller.RegisterCallbackForPinValueChangedEvent(config.Line, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
    }

    private bool Active(PinValue level) => (level == PinValue.High) != _config.ActiveLow;

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        var active = Active(e.ChangeType == PinEventTypes.Rising ? PinValue.High : PinValue.Low);
        lock (_lock)
        {
            if (_candidateSince is null && active == _stable)
                return;
            _candidate = active;
            _candidateSince = _time.GetUtcNow();
        }
    }

    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        lock (_lock)
        {
            if (_candidateSince is { } since && now - since >= _config.Debounce)
            {
                _stable = _candidate;
                _candidateSince = null;
            }
            value = _stable ? 1 : 0;
        }
        error = "";
        return true;
    }

    public override void Dispose()
    {
        try
        {
            _controller.UnregisterCallbackForPinValueChangedEvent(_config.Line, OnEdge);
            _controller.ClosePin(_config.Line);
        }
        catch (InvalidOperationException)
        {
            // Already closed with the controller.
        }
    }
}

/// <summary>Stands in for a GPIO input that could not be opened: always lost, with the reason.</summary>
internal sealed class UnavailableSensor(string name, string reason) : Sensor(name, "")
{
    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        error = reason;
        return false;
    }
}
