namespace EdgeMail.Spool;

/// <summary>
/// Queue IDs: 16 characters of Crockford base32 (digits and upper-case letters without I, L, O, U).
/// The first 10 characters are the Unix time in milliseconds (50 bits), the last 6 a 30-bit sequence
/// that starts at a random value each millisecond and counts up within it. IDs therefore sort by
/// arrival time as plain strings, are safe as file names on any file system, and two processes
/// (the daemon and a sendmail drop) practically never collide.
/// </summary>
public static class QueueId
{
    public const int Length = 16;
    private const int TimeChars = 10;
    private const int SequenceBits = 30;
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    private static readonly Lock Gate = new();
    private static long s_lastMs;
    private static long s_sequence;

    public static string New()
    {
        long ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long sequence;
        lock (Gate)
        {
            if (ms > s_lastMs)
            {
                s_lastMs = ms;
                // Start low in the sequence space so there is room to count up within one millisecond.
                s_sequence = Random.Shared.NextInt64(0, 1L << (SequenceBits - 1));
            }
            else if (++s_sequence >= 1L << SequenceBits)
            {
                // 2^29 IDs in one millisecond, or the clock went backwards: borrow the next millisecond
                // so IDs stay unique and increasing.
                s_lastMs++;
                s_sequence = Random.Shared.NextInt64(0, 1L << (SequenceBits - 1));
            }
            ms = s_lastMs;
            sequence = s_sequence;
        }
        return Encode(ms, sequence);
    }

    /// <summary>True only for exactly 16 upper-case Crockford base32 characters: nothing else may
    /// ever become part of a spool path ("../x", "", lower case, separators, NUL…).</summary>
    public static bool IsValid(ReadOnlySpan<char> id)
    {
        if (id.Length != Length)
            return false;
        foreach (char c in id)
        {
            if (DecodeChar(c) < 0)
                return false;
        }
        return true;
    }

    /// <summary>The arrival millisecond encoded in a valid ID.</summary>
    public static DateTimeOffset TimestampOf(string id)
    {
        if (!IsValid(id))
            throw new ArgumentException("not a queue ID", nameof(id));
        Decode(id, out long ms, out _);
        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }

    /// <summary>Makes every later <see cref="New"/> sort after <paramref name="id"/>. Called at open with the
    /// newest ID on disk: a Raspberry Pi has no real-time clock and may boot with a clock that is behind
    /// the one that named the queued files; a new ID must still never equal an old one.</summary>
    internal static void AdvancePast(string id)
    {
        if (!IsValid(id))
            return;
        Decode(id, out long ms, out long sequence);
        lock (Gate)
        {
            if (ms > s_lastMs || (ms == s_lastMs && sequence > s_sequence))
            {
                s_lastMs = ms;
                s_sequence = sequence;
            }
        }
    }

    /// <summary>The ID for a given millisecond and sequence number (tests, tools).</summary>
    internal static string Compose(DateTimeOffset time, long sequence)
        => Encode(time.ToUnixTimeMilliseconds(), sequence & ((1L << SequenceBits) - 1));

    private static string Encode(long ms, long sequence)
    {
        return string.Create(Length, (ms, sequence), static (span, v) =>
        {
            long t = v.ms;
            for (int i = TimeChars - 1; i >= 0; i--)
            {
                span[i] = Alphabet[(int)(t & 31)];
                t >>= 5;
            }
            long s = v.sequence;
            for (int i = Length - 1; i >= TimeChars; i--)
            {
                span[i] = Alphabet[(int)(s & 31)];
                s >>= 5;
            }
        });
    }

    private static void Decode(string id, out long ms, out long sequence)
    {
        ms = 0;
        for (int i = 0; i < TimeChars; i++)
            ms = (ms << 5) | (uint)DecodeChar(id[i]);
        sequence = 0;
        for (int i = TimeChars; i < Length; i++)
            sequence = (sequence << 5) | (uint)DecodeChar(id[i]);
    }

    private static int DecodeChar(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'A' and <= 'Z' when c is not ('I' or 'L' or 'O' or 'U') => Alphabet.IndexOf(c),
        _ => -1,
    };
}
