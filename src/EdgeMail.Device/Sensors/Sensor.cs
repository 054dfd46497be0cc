namespace EdgeMail.Device.Sensors;

/// <summary>One reading, or why there is none.</summary>
public readonly record struct SensorSample(string Name, string Unit, double? Value, string? Error, DateTimeOffset At)
{
    public bool Ok => Value.HasValue;
}

/// <summary>A source of numbers. Reading returns false with a reason (gone, garbage); it never throws
/// for a sensor problem — <see cref="SensorSet"/> still guards against anything unexpected.</summary>
public abstract class Sensor(string name, string unit) : IDisposable
{
    public string Name { get; } = name;
    public string Unit { get; } = unit;

    public abstract bool TryRead(DateTimeOffset now, out double value, out string error);

    public virtual void Dispose() { }
}

/// <summary>An integer sysfs attribute divided into the unit we report (millidegrees / 1000 = °C).
/// Dividing, not multiplying by 0.001, keeps 5012 mV exactly 5.012 V.</summary>
internal sealed class ScaledFileSensor(string name, string unit, Func<string?> locate, string what, double divisor,
    Func<double, string?>? validate = null) : Sensor(name, unit)
{
    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        var path = locate();
        if (path is null || !File.Exists(path))
        {
            error = $"{what} not found";
            return false;
        }
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        var n = SysfsFile.Read(path, buffer);
        if (!SysfsFile.TryParseInteger(buffer[..n], out var raw))
        {
            error = $"{path}: not a number: \"{SysfsFile.Describe(buffer[..n])}\"";
            return false;
        }
        value = raw / divisor;
        error = validate?.Invoke(value) ?? "";
        return error.Length == 0;
    }
}

/// <summary>
/// An IIO channel: in_X_input when the driver offers it; otherwise (in_X_raw + in_X_offset) × in_X_scale,
/// which the IIO ABI defines to be in the same units as in_X_input.
/// </summary>
internal sealed class IioSensor(string name, string unit, Func<string?> locateDevice, string channel, double divisor)
    : Sensor(name, unit)
{
    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        var dir = locateDevice();
        if (dir is null)
        {
            error = "IIO device not found";
            return false;
        }
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        var input = Path.Combine(dir, $"in_{channel}_input");
        if (File.Exists(input))
        {
            var n = SysfsFile.Read(input, buffer);
            // Most drivers write integers, a few (pressure on bmp280) write decimals.
            if (!SysfsFile.TryParseDecimal(buffer[..n], out var v))
            {
                error = $"{input}: not a number: \"{SysfsFile.Describe(buffer[..n])}\"";
                return false;
            }
            value = v / divisor;
            error = "";
            return true;
        }
        var rawPath = Path.Combine(dir, $"in_{channel}_raw");
        if (!File.Exists(rawPath))
        {
            error = $"{dir}: no in_{channel}_input or in_{channel}_raw";
            return false;
        }
        var rawLen = SysfsFile.Read(rawPath, buffer);
        if (!SysfsFile.TryParseDecimal(buffer[..rawLen], out var raw))
        {
            error = $"{rawPath}: not a number";
            return false;
        }
        double offset = 0, scale = 1;
        if (!ReadOptional(Path.Combine(dir, $"in_{channel}_offset"), ref offset, buffer)
            || !ReadOptional(Path.Combine(dir, $"in_{channel}_scale"), ref scale, buffer))
        {
            error = $"{dir}: unreadable in_{channel}_offset or _scale";
            return false;
        }
        value = (raw + offset) * scale / divisor;
        error = "";
        return true;
    }

    private static bool ReadOptional(string path, ref double value, Span<byte> buffer)
    {
        if (!File.Exists(path))
            return true;
        var n = SysfsFile.Read(path, buffer);
        return SysfsFile.TryParseDecimal(buffer[..n], out value);
    }
}

/// <summary>
/// DS18B20 on the w1-gpio bus. Newer kernels offer "temperature" (millidegrees); older ones only
/// "w1_slave", two lines: the scratchpad with "crc=xx YES" (or NO), then "... t=21437".
/// 85 000 is the chip's power-on reset value, returned when a conversion did not happen
/// (typically a marginal supply or missing pull-up), so it is treated as garbage, not as 85 °C.
/// </summary>
internal sealed class W1Sensor(string name, Func<string?> locateDevice) : Sensor(name, "°C")
{
    private const long PowerOnReset = 85_000;

    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        var dir = locateDevice();
        if (dir is null)
        {
            error = "1-Wire device not found";
            return false;
        }
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        long milli;
        var temperature = Path.Combine(dir, "temperature");
        if (File.Exists(temperature))
        {
            var n = SysfsFile.Read(temperature, buffer);
            if (!SysfsFile.TryParseInteger(buffer[..n], out milli))
            {
                error = $"{temperature}: not a number: \"{SysfsFile.Describe(buffer[..n])}\"";
                return false;
            }
        }
        else
        {
            var slave = Path.Combine(dir, "w1_slave");
            if (!File.Exists(slave))
            {
                error = $"{dir}: no temperature or w1_slave";
                return false;
            }
            var n = SysfsFile.Read(slave, buffer);
            if (!TryParseW1Slave(buffer[..n], out milli, out error))
                return false;
        }
        if (milli == PowerOnReset || milli < -55_000 || milli > 125_000)
        {
            error = $"implausible DS18B20 reading {milli} (85000 = power-on reset, conversion failed)";
            return false;
        }
        value = milli / 1000.0;
        error = "";
        return true;
    }

    internal static bool TryParseW1Slave(ReadOnlySpan<byte> text, out long milli, out string error)
    {
        milli = 0;
        var nl = text.IndexOf((byte)'\n');
        if (nl < 0)
        {
            error = "w1_slave: truncated";
            return false;
        }
        var first = text[..nl].TrimEnd("\r "u8);
        if (!first.EndsWith("YES"u8))
        {
            error = "w1_slave: CRC check failed";
            return false;
        }
        var second = text[(nl + 1)..];
        var t = second.IndexOf("t="u8);
        if (t < 0 || !SysfsFile.TryParseInteger(second[(t + 2)..], out milli))
        {
            error = "w1_slave: no t= value";
            return false;
        }
        error = "";
        return true;
    }
}

/// <summary>How full the spool's file system is (percent). statfs through DriveInfo.</summary>
internal sealed class SpoolSpaceSensor(string name, string path) : Sensor(name, "%")
{
    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        if (!Directory.Exists(path))
        {
            error = $"{path} not found";
            return false;
        }
        var drive = new DriveInfo(path);
        var total = drive.TotalSize;
        if (total <= 0)
        {
            error = $"{path}: file system size unknown";
            return false;
        }
        value = Math.Round(100.0 * (total - drive.AvailableFreeSpace) / total, 2);
        error = "";
        return true;
    }
}

/// <summary>
/// The Pi firmware's throttling flags. Read from /sys/devices/platform/soc/soc:firmware/get_throttled
/// (the raspberrypi firmware driver, hex, same bits as `vcgencmd get_throttled`). Where that attribute is
/// missing, under-voltage alone falls back to the rpi_volt hwmon chip's in0_lcrit_alarm (1 = under-voltage).
/// </summary>
internal sealed class ThrottledSensor(string name, string sysfsRoot, string flag, Func<string?> rpiVoltAlarm) : Sensor(name, "")
{
    // Bit numbers from the firmware mailbox property GET_THROTTLED; +16 = "has occurred since boot".
    internal static int? BitOf(string flag) => flag switch
    {
        "" or "under_voltage" => 0,
        "freq_capped" => 1,
        "throttled" => 2,
        "soft_temp_limit" => 3,
        "under_voltage_occurred" => 16,
        "freq_capped_occurred" => 17,
        "throttled_occurred" => 18,
        "soft_temp_limit_occurred" => 19,
        _ => null,
    };

    public override bool TryRead(DateTimeOffset now, out double value, out string error)
    {
        value = 0;
        var bit = BitOf(flag);
        if (bit is null)
        {
            error = $"unknown throttled flag \"{flag}\"";
            return false;
        }
        var path = Path.Combine(sysfsRoot, "devices/platform/soc/soc:firmware/get_throttled");
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        var n = -1;
        try
        {
            if (File.Exists(path))
                n = SysfsFile.Read(path, buffer);
        }
        catch (UnauthorizedAccessException)
        {
            // Some firmware releases make get_throttled root-only; the hwmon alarm is world-readable.
        }
        if (n >= 0)
        {
            var text = buffer[..n].Trim("\n\r\t "u8);
            if (text.StartsWith("0x"u8))
                text = text[2..];
            if (!System.Buffers.Text.Utf8Parser.TryParse(text, out uint flags, out var used, 'X') || used != text.Length || text.Length == 0)
            {
                error = $"{path}: not a hex number: \"{SysfsFile.Describe(buffer[..n])}\"";
                return false;
            }
            value = (flags >> bit.Value) & 1;
            error = "";
            return true;
        }
        var alarm = bit == 0 ? rpiVoltAlarm() : null;
        if (alarm is null || !File.Exists(alarm))
        {
            error = "no get_throttled attribute and no rpi_volt in0_lcrit_alarm";
            return false;
        }
        var len = SysfsFile.Read(alarm, buffer);
        if (!SysfsFile.TryParseInteger(buffer[..len], out var a))
        {
            error = $"{alarm}: not a number";
            return false;
        }
        value = a != 0 ? 1 : 0;
        error = "";
        return true;
    }
}
