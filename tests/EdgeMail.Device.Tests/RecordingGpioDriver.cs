using System.Device.Gpio;

namespace EdgeMail.Device.Tests;

/// <summary>Stands in for the hardware: remembers every write with the fake clock's time, and lets a
/// test drive input edges.</summary>
internal sealed class RecordingGpioDriver(TimeProvider clock, int pinCount = 64) : GpioDriver
{
    public readonly record struct PinWrite(TimeSpan At, int Line, bool High);

    private readonly DateTimeOffset _origin = clock.GetUtcNow();
    private readonly Dictionary<int, PinMode> _modes = [];
    private readonly Dictionary<int, PinValue> _values = [];
    private readonly Dictionary<int, List<(PinEventTypes Types, PinChangeEventHandler Handler)>> _callbacks = [];

    public List<PinWrite> Writes { get; } = [];
    public event Action<PinWrite>? Written;

    protected override int PinCount => pinCount;
    protected override void OpenPin(int pinNumber) { }
    protected override void ClosePin(int pinNumber) => _modes.Remove(pinNumber);
    protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[pinNumber] = mode;
    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        _modes[pinNumber] = mode;
        Write(pinNumber, initialValue);
    }
    protected override PinMode GetPinMode(int pinNumber) => _modes.GetValueOrDefault(pinNumber, PinMode.Input);
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;
    protected override PinValue Read(int pinNumber) => _values.GetValueOrDefault(pinNumber, PinValue.Low);
    protected override void Toggle(int pinNumber) => Write(pinNumber, !(bool)Read(pinNumber));
    protected override void Write(int pinNumber, PinValue value)
    {
        _values[pinNumber] = value;
        var write = new PinWrite(clock.GetUtcNow() - _origin, pinNumber, value == PinValue.High);
        lock (Writes) Writes.Add(write);
        Written?.Invoke(write);
    }
    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
        => throw new NotSupportedException();
    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        if (!_callbacks.TryGetValue(pinNumber, out var list))
            _callbacks[pinNumber] = list = [];
        list.Add((eventTypes, callback));
    }
    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
        => _callbacks.GetValueOrDefault(pinNumber)?.RemoveAll(c => c.Handler == callback);

    /// <summary>The input line changes level, as a switch contact would.</summary>
    public void SetInput(int line, bool high)
    {
        _values[line] = high ? PinValue.High : PinValue.Low;
        var type = high ? PinEventTypes.Rising : PinEventTypes.Falling;
        foreach (var (types, handler) in _callbacks.GetValueOrDefault(line)?.ToArray() ?? [])
            if ((types & type) != 0)
                handler(this, new PinValueChangedEventArgs(type, line));
    }
}
