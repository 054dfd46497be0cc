namespace EdgeMail.Smtp.Server;

/// <summary>
/// The DATA byte state machine (RFC 5321 §4.1.1.4, §4.5.2). Works in place on the session's buffer: removes the
/// transparency dot, finds the end only at &lt;CRLF&gt;.&lt;CRLF&gt; and notes any bare CR or LF. The state carries
/// across reads, so a terminator or a stuffed dot split between two reads is handled like one in the middle.
///
/// Smuggling: a bare LF or CR never counts as a line end here, so "&lt;LF&gt;.&lt;LF&gt;", "&lt;CR&gt;.&lt;CR&gt;" and
/// friends are ordinary message bytes; the session rejects the message after its real end when they occur.
/// </summary>
internal struct DataDecoder
{
    private enum State : byte { LineStart, Middle, Cr, Dot, DotCr }

    private State _state; // default LineStart: DATA's own CRLF precedes the first byte.

    public bool SawBareLineEnding { get; private set; }

    public readonly record struct Result(int Consumed, int Written, bool Ended, bool PrefixCr);

    /// <summary>Decodes <paramref name="buffer"/> in place. Output bytes are buffer[0..Written]; when PrefixCr is set,
    /// one CR that belonged to the previous read must be emitted before them (the only case where output would get
    /// ahead of input: ".&lt;CR&gt;" held back at the end of one read, then not followed by LF).</summary>
    public Result Decode(Span<byte> buffer)
    {
        int w = 0;
        bool prefixCr = false;
        for (int r = 0; r < buffer.Length; r++)
        {
            byte b = buffer[r];
            switch (_state)
            {
                case State.LineStart:
                    if (b == (byte)'.') { _state = State.Dot; continue; }
                    goto case State.Middle;
                case State.Middle:
                    if (b == (byte)'\r') _state = State.Cr;
                    else if (b == (byte)'\n') { SawBareLineEnding = true; _state = State.Middle; }
                    else _state = State.Middle;
                    buffer[w++] = b;
                    continue;
                case State.Cr:
                    if (b == (byte)'\n') _state = State.LineStart;
                    else if (b == (byte)'\r') SawBareLineEnding = true;
                    else { SawBareLineEnding = true; _state = State.Middle; }
                    buffer[w++] = b;
                    continue;
                case State.Dot:
                    // The leading dot is dropped: ".." → "." and ".x" → "x" (§4.5.2).
                    if (b == (byte)'\r') { _state = State.DotCr; continue; }
                    goto case State.Middle;
                case State.DotCr:
                    if (b == (byte)'\n')
                    {
                        _state = State.LineStart;
                        return new Result(r + 1, w, Ended: true, prefixCr);
                    }
                    // ".<CR>x": the held CR is a bare CR in the message.
                    SawBareLineEnding = true;
                    if (r == 0) prefixCr = true; // its byte belonged to the previous read; no room to write it back
                    else buffer[w++] = (byte)'\r';
                    _state = State.Cr;
                    goto case State.Cr;
            }
        }
        return new Result(buffer.Length, w, Ended: false, prefixCr);
    }
}
