using System.Text;

namespace EdgeMail.Smtp.Client;

/// <summary>Parses reply lines from bytes (RFC 5321 §4.2): Reply-line = *( Reply-code "-" [ textstring ] CRLF )
/// Reply-code [ SP textstring ] CRLF, every line of one reply carrying the same code; the first line's text may
/// start with an RFC 3463 enhanced code (RFC 2034 §3), which servers repeat on every line.</summary>
internal struct SmtpReplyParser
{
    /// <summary>A reply longer than this many lines is hostile or broken (bounded like everything else).</summary>
    internal const int MaxLines = 1000;

    private int _code;
    private int _lines;
    private string? _enhanced;
    private byte[]? _enhancedBytes;
    private StringBuilder? _text;

    private bool _complete;

    internal readonly int Code => _code;
    internal readonly bool IsComplete => _complete;

    /// <summary>Feeds one line without its line ending. Returns true when it was the reply's last line.
    /// Writes the line's text (code and enhanced code removed) to <paramref name="text"/>.
    /// Returns false and sets <paramref name="error"/> for a malformed line.</summary>
    internal bool Feed(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> text, out string? error)
    {
        text = default;
        error = null;
        if (line.Length < 3 || !IsDigit(line[0], '2', '5') || !IsDigit(line[1], '0', '9') || !IsDigit(line[2], '0', '9'))
        {
            error = "malformed reply line (no 3-digit code)";
            return false;
        }
        int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        bool last;
        if (line.Length == 3) last = true;
        else if (line[3] == (byte)' ') last = true;
        else if (line[3] == (byte)'-') last = false;
        else
        {
            error = "malformed reply line (no SP or '-' after the code)";
            return false;
        }
        if (_lines > 0 && code != _code)
        {
            error = $"reply lines with different codes ({_code} then {code})";
            return false;
        }
        if (++_lines > MaxLines)
        {
            error = $"reply longer than {MaxLines} lines";
            return false;
        }
        _code = code;
        text = line.Length > 4 ? line[4..] : ReadOnlySpan<byte>.Empty;

        int enhancedLength = EnhancedCodeLength(text, line[0]);
        if (enhancedLength > 0)
        {
            if (_lines == 1)
            {
                _enhancedBytes = text[..enhancedLength].ToArray();
                _enhanced = Encoding.ASCII.GetString(_enhancedBytes);
            }
            if (_enhancedBytes is not null && text[..enhancedLength].SequenceEqual(_enhancedBytes))
                text = text[enhancedLength..].TrimStart((byte)' ');
        }

        _text ??= new StringBuilder();
        if (_lines > 1) _text.Append('\n');
        // Reply text is meant to be ASCII; anything else is shown, not trusted (invalid UTF-8 becomes U+FFFD).
        _text.Append(Encoding.UTF8.GetString(text));
        _complete = last;
        return last;
    }

    internal SmtpReply ToReply() => new(_code, _enhanced, _text?.ToString() ?? "");

    /// <summary>Length of "class.subject.detail" at the start of <paramref name="text"/> (RFC 3463 §2: class is 2, 4
    /// or 5 and must match the reply's first digit; subject and detail 1-3 digits), or 0 when there is none.</summary>
    internal static int EnhancedCodeLength(ReadOnlySpan<byte> text, byte replyClass)
    {
        if (text.Length < 5 || text[0] != replyClass || text[1] != (byte)'.') return 0;
        int i = 2;
        if (!Digits(text, ref i) || i >= text.Length || text[i] != (byte)'.') return 0;
        i++;
        if (!Digits(text, ref i)) return 0;
        return i == text.Length || text[i] == (byte)' ' ? i : 0;
    }

    private static bool Digits(ReadOnlySpan<byte> s, ref int i)
    {
        int start = i;
        while (i < s.Length && i - start < 4 && s[i] >= (byte)'0' && s[i] <= (byte)'9') i++;
        int n = i - start;
        return n is >= 1 and <= 3;
    }

    private static bool IsDigit(byte b, char lo, char hi) => b >= (byte)lo && b <= (byte)hi;
}
