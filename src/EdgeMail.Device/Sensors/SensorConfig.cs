namespace EdgeMail.Device.Sensors;

public enum SensorKind
{
    /// <summary>/sys/class/thermal/thermal_zoneN/temp (millidegree Celsius) → °C.</summary>
    Thermal,
    /// <summary>/sys/class/hwmon/hwmonN/{temp,in,fan}M_input, chosen by the chip's "name" file.</summary>
    Hwmon,
    /// <summary>/sys/bus/iio/devices/iio:deviceN/in_{temp,humidityrelative,pressure}_input, chosen by "name".</summary>
    Iio,
    /// <summary>1-Wire DS18B20: /sys/bus/w1/devices/28-*/temperature or w1_slave.</summary>
    W1,
    /// <summary>A GPIO input (door contact, leak sensor, button): 1 when active, 0 when not.</summary>
    Gpio,
    /// <summary>How full the spool's file system is, in percent.</summary>
    Spool,
    /// <summary>Raspberry Pi firmware flags: under-voltage, throttling (1 = set now).</summary>
    Throttled,
}

/// <summary>One [[sensors]] entry.</summary>
public sealed class SensorConfig
{
    public required string Name { get; init; }
    public required SensorKind Kind { get; init; }
    /// <summary>thermal: zone number or its "type" (cpu-thermal); hwmon/iio: the chip's "name"
    /// (rpi_volt, bme280); w1: the device id (28-0316a2795aff), empty = the only 28-* device.</summary>
    public string Device { get; init; } = "";
    /// <summary>hwmon: the attribute (temp1_input, in0_input, fan1_input, in0_lcrit_alarm);
    /// iio: temp, humidityrelative or pressure; throttled: under_voltage, freq_capped, throttled,
    /// soft_temp_limit (or the same with an "_occurred" suffix for the sticky bits).</summary>
    public string Channel { get; init; } = "";
    /// <summary>gpio: chip number and line offset (BCM number on a Pi).</summary>
    public int Chip { get; init; }
    public int Line { get; init; }
    /// <summary>gpio: active when the line reads low (a contact to ground with a pull-up).</summary>
    public bool ActiveLow { get; init; }
    /// <summary>gpio: "up", "down" or "none" (the Pi's internal pull resistors).</summary>
    public string Pull { get; init; } = "none";
    /// <summary>gpio: a level must hold this long before it counts (contact bounce).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>spool: the folder whose file system is measured.</summary>
    public string Path { get; init; } = "";
}
