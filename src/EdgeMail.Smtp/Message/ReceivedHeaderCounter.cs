namespace EdgeMail.Smtp.Message;

/// <summary>
/// Counts the <c>Received:</c> header fields of a message while its bytes stream past, in reads of any size.
/// Every relay prepends one (RFC 5321 §4.4), so their number is the hop count; a message that has crossed more
/// hops than any sane path is in a loop and must be refused or bounced, not relayed again (RFC 5321 §6.3).
/// Postfix calls the limit hopcount_limit (default 50); <see cref="DefaultLimit"/> takes the same number.
///
/// Only the header section counts: it ends at the first empty line (RFC 5322 §2.1), so a forwarded message or a
/// bounce quoting "Received:" lines in its body is not counted. A field name is matched case-insensitively
/// (RFC 5322 §1.2.2) and may be followed by spaces before the colon (the obsolete syntax of §4.5.3, still sent);
/// continuation lines (starting with WSP) belong to the field above them. Lines may end in CRLF or a bare LF
/// (local submissions), so LF alone ends a line here. The state carries across reads: a name or an empty line split
/// between two reads counts like one in the middle.
/// </summary>
public struct ReceivedHeaderCounter
{
    /// <summary>Postfix's hopcount_limit default: far above any real path (a handful of hops), far below a loop.</summary>
    public const int DefaultLimit = 50;

    private enum State : byte { LineStart, LineStartCr, InName, AfterName, RestOfLine, Body }

    private static ReadOnlySpan<byte> Name => "received"u8;

    private State _state;
    private byte _matched;

    /// <summary>Received: fields seen so far.</summary>
    public int Count { get; private set; }

    /// <summary>True once the empty line that ends the header section has gone past: nothing later is counted.</summary>
    public readonly bool HeaderEnded => _state == State.Body;

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            switch (_state)
            {
                case State.Body:
                    return;
                case State.LineStart:
                    if (b == (byte)'\n') _state = State.Body;
                    else if (b == (byte)'\r') _state = State.LineStartCr;
                    else StartName(b);
                    break;
                case State.LineStartCr:
                    // CR LF alone on a line is the empty line; a lone CR is an odd first byte of an ordinary line.
                    _state = b == (byte)'\n' ? State.Body : State.RestOfLine;
                    break;
                case State.InName:
                    // b | 0x20 folds ASCII upper case to lower; only a letter can fold onto a letter of the name.
                    if ((b | 0x20) == Name[_matched])
                    {
                        if (++_matched == Name.Length) _state = State.AfterName;
                    }
                    else _state = b == (byte)'\n' ? State.LineStart : State.RestOfLine;
                    break;
                case State.AfterName:
                    if (b == (byte)':') { Count++; _state = State.RestOfLine; }
                    else if (b != (byte)' ' && b != (byte)'\t')
                        _state = b == (byte)'\n' ? State.LineStart : State.RestOfLine; // Received-SPF:, Receivedx:
                    break;
                case State.RestOfLine:
                    if (b == (byte)'\n') _state = State.LineStart;
                    break;
            }
        }
    }

    private void StartName(byte b)
    {
        if ((b | 0x20) == Name[0]) { _matched = 1; _state = State.InName; }
        else _state = State.RestOfLine;
    }

    /// <summary>The Received: fields in a whole message (or its header section).</summary>
    public static int CountIn(ReadOnlySpan<byte> message)
    {
        var counter = new ReceivedHeaderCounter();
        counter.Feed(message);
        return counter.Count;
    }
}
