using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Device.Sensors;

/// <summary>
/// Reads sysfs attributes: small text files. A fixed buffer bounds what is read, so a wrong path
/// pointing at a large file cannot make a sample expensive.
/// </summary>
internal static class SysfsFile
{
    public const int MaxSize = 512;

    /// <summary>Reads up to <see cref="MaxSize"/> bytes; throws IOException-family errors.</summary>
    public static int Read(string path, Span<byte> buffer)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[total..], total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>An integer attribute ("42000\n"). False for anything else.</summary>
    public static bool TryParseInteger(ReadOnlySpan<byte> text, out long value)
    {
        text = text.Trim("\n\r\t "u8);
        return Utf8Parser.TryParse(text, out value, out var consumed) && consumed == text.Length && text.Length > 0;
    }

    /// <summary>A decimal attribute ("0.000976562\n", as IIO scales are written).</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> text, out double value)
    {
        text = text.Trim("\n\r\t "u8);
        return Utf8Parser.TryParse(text, out value, out var consumed) && consumed == text.Length && text.Length > 0
            && double.IsFinite(value);
    }

    public static string ReadText(string path)
    {
        Span<byte> buffer = stackalloc byte[MaxSize];
        var n = Read(path, buffer);
        return Encoding.UTF8.GetString(buffer[..n]).Trim();
    }

    public static string Describe(ReadOnlySpan<byte> text)
    {
        var s = Encoding.ASCII.GetString(text.Length > 32 ? text[..32] : text).Trim();
        var clean = new StringBuilder(s.Length);
        foreach (var c in s)
            clean.Append(c is >= ' ' and <= '~' ? c : '?');
        return clean.ToString();
    }

    public static string Format(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
