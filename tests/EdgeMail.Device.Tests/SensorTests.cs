using System.Device.Gpio;
using EdgeMail.Device.Sensors;

namespace EdgeMail.Device.Tests;

/// <summary>Each test builds the sysfs files a kernel driver would expose, in a temp folder.</summary>
public sealed class SensorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgemail-sysfs-").FullName;
    private readonly FakeClock _clock = new();
    private readonly ListLogger _log = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Put(string relative, string content)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private SensorSet Sensors(params SensorConfig[] configs) =>
        SensorSet.Create(configs, new SensorSetOptions { SysfsRoot = _root }, _clock, _log);

    private SensorSample ReadOne(SensorConfig config)
    {
        using var set = Sensors(config);
        return Assert.Single(set.Sample(_clock.GetUtcNow()));
    }

    [Fact]
    public void Thermal_zone_millidegrees_become_degrees_celsius()
    {
        Put("class/thermal/thermal_zone0/temp", "48312\n");
        var s = ReadOne(new SensorConfig { Name = "cpu", Kind = SensorKind.Thermal });
        Assert.Equal(48.312, s.Value);
        Assert.Equal("°C", s.Unit);
    }

    [Fact]
    public void Thermal_zone_can_be_chosen_by_its_type()
    {
        Put("class/thermal/thermal_zone0/type", "acpitz\n");
        Put("class/thermal/thermal_zone0/temp", "20000\n");
        Put("class/thermal/thermal_zone1/type", "cpu-thermal\n");
        Put("class/thermal/thermal_zone1/temp", "61000\n");
        Assert.Equal(61.0, ReadOne(new SensorConfig { Name = "cpu", Kind = SensorKind.Thermal, Device = "cpu-thermal" }).Value);
    }

    [Theory]
    [InlineData("temp1_input", "45500", 45.5, "°C")]
    [InlineData("in0_input", "5012", 5.012, "V")]
    [InlineData("fan1_input", "2400", 2400.0, "RPM")]
    [InlineData("in0_lcrit_alarm", "1", 1.0, "")]
    public void Hwmon_attributes_are_found_by_chip_name_and_scaled_by_kind(string attribute, string raw, double value, string unit)
    {
        Put("class/hwmon/hwmon0/name", "cpu_thermal\n");
        Put("class/hwmon/hwmon1/name", "board\n");
        Put($"class/hwmon/hwmon1/{attribute}", raw + "\n");
        var s = ReadOne(new SensorConfig { Name = "x", Kind = SensorKind.Hwmon, Device = "board", Channel = attribute });
        Assert.Equal(value, s.Value);
        Assert.Equal(unit, s.Unit);
    }

    [Fact]
    public void Iio_bme280_channels_are_converted_from_kernel_units()
    {
        Put("bus/iio/devices/iio:device0/name", "bme280\n");
        Put("bus/iio/devices/iio:device0/in_temp_input", "21370\n");              // millidegrees C
        Put("bus/iio/devices/iio:device0/in_humidityrelative_input", "45123\n");  // milli-percent
        Put("bus/iio/devices/iio:device0/in_pressure_input", "101.325000\n");     // kilopascal
        using var set = Sensors(
            new SensorConfig { Name = "t", Kind = SensorKind.Iio, Device = "bme280", Channel = "temp" },
            new SensorConfig { Name = "h", Kind = SensorKind.Iio, Device = "bme280", Channel = "humidityrelative" },
            new SensorConfig { Name = "p", Kind = SensorKind.Iio, Device = "bme280", Channel = "pressure" });
        var s = set.Sample(_clock.GetUtcNow());
        Assert.Equal(21.37, s[0].Value);
        Assert.Equal(45.123, s[1].Value);
        Assert.Equal("%", s[1].Unit);
        Assert.Equal(1013.25, s[2].Value!.Value, 6);
        Assert.Equal("hPa", s[2].Unit);
    }

    [Fact]
    public void Iio_raw_readings_apply_offset_then_scale()
    {
        Put("bus/iio/devices/iio:device1/name", "dht11\n");
        Put("bus/iio/devices/iio:device1/in_temp_raw", "1000\n");
        Put("bus/iio/devices/iio:device1/in_temp_offset", "500\n");
        Put("bus/iio/devices/iio:device1/in_temp_scale", "15.5\n");
        Assert.Equal(23.25, ReadOne(new SensorConfig { Name = "t", Kind = SensorKind.Iio, Device = "dht11", Channel = "temp" }).Value);
    }

    [Fact]
    public void Ds18b20_temperature_attribute_is_in_millidegrees()
    {
        Put("bus/w1/devices/28-0316a2795aff/temperature", "-18250\n");
        Assert.Equal(-18.25, ReadOne(new SensorConfig { Name = "freezer", Kind = SensorKind.W1, Device = "28-0316a2795aff" }).Value);
    }

    [Fact]
    public void Ds18b20_w1_slave_is_used_when_its_crc_says_YES()
    {
        Put("bus/w1/devices/28-01/w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n");
        Assert.Equal(23.125, ReadOne(new SensorConfig { Name = "room", Kind = SensorKind.W1 }).Value);
    }

    [Theory]
    [InlineData("72 01 4b 46 7f ff 0e 10 57 : crc=12 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", "CRC")]
    [InlineData("50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n", "power-on reset")]
    [InlineData("garbage", "truncated")]
    public void Ds18b20_bad_crc_power_on_value_or_garbage_is_a_lost_sensor(string w1Slave, string reason)
    {
        Put("bus/w1/devices/28-01/w1_slave", w1Slave);
        var s = ReadOne(new SensorConfig { Name = "room", Kind = SensorKind.W1, Device = "28-01" });
        Assert.Null(s.Value);
        Assert.Contains(reason, s.Error);
    }

    [Theory]
    [InlineData("50005", "under_voltage", 1.0)]
    [InlineData("0x50005", "throttled", 1.0)]
    [InlineData("50005", "freq_capped", 0.0)]
    [InlineData("50000", "under_voltage", 0.0)]
    [InlineData("50000", "under_voltage_occurred", 1.0)]
    public void Pi_firmware_get_throttled_bits_are_read_as_hex(string raw, string flag, double value)
    {
        Put("devices/platform/soc/soc:firmware/get_throttled", raw + "\n");
        Assert.Equal(value, ReadOne(new SensorConfig { Name = "power", Kind = SensorKind.Throttled, Channel = flag }).Value);
    }

    [Fact]
    public void Under_voltage_falls_back_to_the_rpi_volt_hwmon_alarm()
    {
        Put("class/hwmon/hwmon2/name", "rpi_volt\n");
        Put("class/hwmon/hwmon2/in0_lcrit_alarm", "1\n");
        Assert.Equal(1.0, ReadOne(new SensorConfig { Name = "power", Kind = SensorKind.Throttled }).Value);
    }

    [Fact]
    public void Spool_space_is_the_percentage_of_its_file_system_in_use()
    {
        var s = ReadOne(new SensorConfig { Name = "spool", Kind = SensorKind.Spool, Path = _root });
        Assert.InRange(s.Value!.Value, 0.0, 100.0);
        Assert.Equal("%", s.Unit);
    }

    [Fact]
    public void A_sensor_that_vanishes_is_lost_with_one_log_line_and_back_with_another()
    {
        Put("class/thermal/thermal_zone0/temp", "40000\n");
        using var set = Sensors(new SensorConfig { Name = "cpu", Kind = SensorKind.Thermal });
        Assert.True(set.Sample(_clock.GetUtcNow())[0].Ok);
        Directory.Delete(Path.Combine(_root, "class"), recursive: true);
        var lost = set.Sample(_clock.GetUtcNow())[0];
        set.Sample(_clock.GetUtcNow());
        set.Sample(_clock.GetUtcNow());
        Assert.False(lost.Ok);
        Assert.Equal(1, set.LostCount);
        Put("class/thermal/thermal_zone0/temp", "41000\n");
        Assert.Equal(41.0, set.Sample(_clock.GetUtcNow())[0].Value);
        Assert.Equal(0, set.LostCount);
        Assert.Collection(_log.Lines,
            l => Assert.Contains("Sensor cpu lost", l.Text),
            l => Assert.Contains("Sensor cpu is back", l.Text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hot\n")]
    [InlineData("12.5.6\n")]
    [InlineData("\0\0\0\0")]
    public void Garbage_in_a_sysfs_file_is_a_lost_sensor_not_a_crash(string content)
    {
        Put("class/thermal/thermal_zone0/temp", content);
        var s = ReadOne(new SensorConfig { Name = "cpu", Kind = SensorKind.Thermal });
        Assert.Null(s.Value);
        Assert.Contains("not a number", s.Error);
    }

    [Fact]
    public void A_directory_where_a_file_should_be_is_a_lost_sensor_not_a_crash()
    {
        Directory.CreateDirectory(Path.Combine(_root, "bus/w1/devices/28-02/temperature"));
        Put("bus/w1/devices/28-02/w1_slave", "x");
        Assert.Null(ReadOne(new SensorConfig { Name = "x", Kind = SensorKind.W1, Device = "28-02" }).Value);
    }

    [Fact]
    public void Gpio_input_level_counts_only_after_holding_for_the_debounce_time()
    {
        var driver = new RecordingGpioDriver(_clock);
        driver.SetInput(5, true);   // pull-up, contact closed to ground = door shut... active-low: released = open
        using var set = SensorSet.Create(
            [new SensorConfig { Name = "door", Kind = SensorKind.Gpio, Line = 5, ActiveLow = true, Pull = "up", Debounce = TimeSpan.FromMilliseconds(50) }],
            new SensorSetOptions { SysfsRoot = _root, Gpio = _ => new GpioController(driver) }, _clock, _log);
        double? Door() => set.Sample(_clock.GetUtcNow())[0].Value;

        Assert.Equal(0.0, Door());                  // line high, active-low: not active
        driver.SetInput(5, false);                  // contact bounces: low, high, low...
        _clock.Advance(TimeSpan.FromMilliseconds(10));
        driver.SetInput(5, true);
        _clock.Advance(TimeSpan.FromMilliseconds(10));
        driver.SetInput(5, false);
        _clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.Equal(0.0, Door());                  // not yet held for 50 ms
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1.0, Door());
        driver.SetInput(5, true);                   // a 20 ms glitch back is ignored
        _clock.Advance(TimeSpan.FromMilliseconds(20));
        driver.SetInput(5, false);
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1.0, Door());
    }

    [Fact]
    public void Gpio_input_without_a_gpio_chip_is_a_lost_sensor()
    {
        var s = ReadOne(new SensorConfig { Name = "leak", Kind = SensorKind.Gpio, Chip = 97, Line = 6 });
        Assert.Null(s.Value);
        Assert.Contains("gpiochip97", s.Error);
    }
}
