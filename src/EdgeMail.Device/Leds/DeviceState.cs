namespace EdgeMail.Device.Leds;

/// <summary>
/// What the lights show, written by the daemon's parts (spool, relay, sensors) and read by
/// <see cref="StatusLights"/>. Every setter raises <see cref="Changed"/> so the lights react at once
/// instead of at the next pattern step.
/// </summary>
public sealed class DeviceState
{
    private readonly Lock _lock = new();
    private int _queueDepth, _deferredCount, _sensorsLost;
    private bool _delivering, _upstreamFailing;
    private double _spoolFill;
    private long _activityPulses;

    public event Action? Changed;

    public int QueueDepth { get { lock (_lock) return _queueDepth; } set => Set(ref _queueDepth, value); }
    /// <summary>Messages waiting for a retry.</summary>
    public int DeferredCount { get { lock (_lock) return _deferredCount; } set => Set(ref _deferredCount, value); }
    public bool Delivering { get { lock (_lock) return _delivering; } set => Set(ref _delivering, value); }
    public bool UpstreamFailing { get { lock (_lock) return _upstreamFailing; } set => Set(ref _upstreamFailing, value); }
    /// <summary>0..1: how full the spool's file system (or its size limit) is.</summary>
    public double SpoolFillRatio { get { lock (_lock) return _spoolFill; } set => Set(ref _spoolFill, value); }
    public int SensorsLost { get { lock (_lock) return _sensorsLost; } set => Set(ref _sensorsLost, value); }
    /// <summary>Total activity pulses so far (monotonic); the lights flash once per pulse.</summary>
    public long ActivityPulses { get { lock (_lock) return _activityPulses; } }

    /// <summary>One message accepted or relayed.</summary>
    public void Pulse()
    {
        lock (_lock) _activityPulses++;
        Changed?.Invoke();
    }

    private void Set<T>(ref T field, T value)
    {
        lock (_lock)
        {
            if (EqualityComparer<T>.Default.Equals(field, value))
                return;
            field = value;
        }
        Changed?.Invoke();
    }
}
