namespace EdgeMail.Smtp.Client;

/// <summary>RFC 5321 §4.5.2 transparency, applied on the fly to a message streamed in chunks: a line that begins
/// with "." gets one more "." in front. Whether the next byte begins a line is remembered across chunks, so a
/// "." that is the first byte of a chunk after a chunk ending in LF is stuffed too.
///
/// A line begins after LF, not only after CRLF: the message should be CRLF throughout, but if a bare LF slipped
/// in, stuffing "\n." means no server that (leniently) ends lines at a bare LF can ever read "\n.\r\n" inside our
/// data as the end of it (SMTP smuggling). MailKit and Postfix make the same choice.</summary>
internal struct DotStuffer
{
    private bool _notAtLineStart;   // default state: the message begins at a line start
    private byte _last, _beforeLast;
    private long _count;

    /// <summary>Copies <paramref name="input"/> to <paramref name="output"/>, stuffing dots; returns bytes written.
    /// <paramref name="output"/> must hold at least twice the input (every byte could be a line-leading ".").</summary>
    internal int Stuff(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length < 2 * input.Length)
            throw new ArgumentException("output must be at least twice the input", nameof(output));
        if (input.IsEmpty) return 0;

        int written = 0;
        var rest = input;
        while (!rest.IsEmpty)
        {
            if (!_notAtLineStart && rest[0] == (byte)'.')
                output[written++] = (byte)'.';
            int lf = rest.IndexOf((byte)'\n');
            int run = lf < 0 ? rest.Length : lf + 1;
            rest[..run].CopyTo(output[written..]);
            written += run;
            _notAtLineStart = lf < 0;
            rest = rest[run..];
        }

        _count += input.Length;
        _beforeLast = input.Length >= 2 ? input[^2] : _last;
        _last = input[^1];
        return written;
    }

    /// <summary>What must follow the data so that it ends "CRLF.CRLF" (RFC 5321 §4.1.1.4): the message's own final
    /// CRLF when it lacks one, then ".CRLF".</summary>
    internal readonly ReadOnlySpan<byte> Terminator =>
        _count == 0 ? ".\r\n"u8
        : _last == (byte)'\n' && _beforeLast == (byte)'\r' ? ".\r\n"u8
        : _last == (byte)'\r' ? "\n.\r\n"u8
        : "\r\n.\r\n"u8;
}
