using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// The append-only side record in state/ID: one record per delivery attempt, so the message file is
/// never rewritten (SD-card wear). Record layout:
/// <code>
///   u32 payload length | payload | u32 CRC-32(payload)
///   payload: u8 version | [u8 flags, version 2 only] | i64 when (ms) | i64 next attempt (ms, or long.MinValue)
///            | string? error | u16 count | count × (string address | u8 status | string? last reply)
///   string?: i32 byte length (-1 = null) | UTF-8 bytes
///   flags:   1 = partial (outcomes recorded while other routes of the round still run; not an attempt)
///            2 = delay warned (the "delayed" notice has been queued)
/// </code>
/// A record without flags is written as version 1, byte for byte as before flags existed, so files from
/// either version read the same; only a record that carries a flag needs version 2.
/// A record torn by a crash fails its length or CRC check; reading stops there and the next append
/// overwrites it (writes go to the end of the valid prefix, not the end of the file).
/// </summary>
internal static class SideRecord
{
    private const byte Version = 1;
    private const byte FlagsVersion = 2;
    private const byte PartialFlag = 1;
    private const byte DelayWarnedFlag = 2;
    /// <summary>A sanity bound when reading: one attempt never needs more.</summary>
    private const int MaxPayload = 1 << 20;

    internal static byte[] Encode(AttemptRecord attempt)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        buffer.Write<byte>([0, 0, 0, 0]);
        byte flags = (byte)((attempt.Partial ? PartialFlag : 0) | (attempt.DelayWarned ? DelayWarnedFlag : 0));
        if (flags == 0)
            buffer.Write<byte>([Version]);
        else
            buffer.Write<byte>([FlagsVersion, flags]);
        WriteInt64(buffer, attempt.When.ToUnixTimeMilliseconds());
        WriteInt64(buffer, attempt.NextAttempt?.ToUnixTimeMilliseconds() ?? long.MinValue);
        WriteString(buffer, attempt.Error);
        Span<byte> count = buffer.GetSpan(2);
        BinaryPrimitives.WriteUInt16LittleEndian(count, (ushort)Math.Min(attempt.Recipients.Count, ushort.MaxValue));
        buffer.Advance(2);
        for (int i = 0; i < attempt.Recipients.Count && i < ushort.MaxValue; i++)
        {
            RecipientState r = attempt.Recipients[i];
            WriteString(buffer, r.Address);
            buffer.Write<byte>([(byte)r.Status]);
            WriteString(buffer, r.LastReply);
        }
        int payloadLength = buffer.WrittenCount - 4;
        Span<byte> crc = buffer.GetSpan(4);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32.HashToUInt32(buffer.WrittenSpan[4..]));
        buffer.Advance(4);
        byte[] record = buffer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(record, payloadLength);
        return record;
    }

    /// <summary>Reads every intact record; <paramref name="validLength"/> is where the next one goes.</summary>
    internal static List<AttemptRecord> ReadAll(SafeFileHandle file, out long validLength)
    {
        var records = new List<AttemptRecord>();
        long fileLength = RandomAccess.GetLength(file);
        long offset = 0;
        Span<byte> prefix = stackalloc byte[4];
        while (offset + 8 <= fileLength)
        {
            if (QueueFile.ReadExactly(file, prefix, offset) != 4)
                break;
            int payloadLength = BinaryPrimitives.ReadInt32LittleEndian(prefix);
            if (payloadLength <= 0 || payloadLength > MaxPayload || offset + 8 + payloadLength > fileLength)
                break;
            byte[] body = new byte[payloadLength + 4];
            if (QueueFile.ReadExactly(file, body, offset + 4) != body.Length)
                break;
            var payload = body.AsSpan(0, payloadLength);
            if (Crc32.HashToUInt32(payload) != BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(payloadLength)))
                break;
            AttemptRecord? record = Parse(payload);
            if (record is null)
                break;
            records.Add(record);
            offset += 8 + payloadLength;
        }
        validLength = offset;
        return records;
    }

    private static AttemptRecord? Parse(ReadOnlySpan<byte> p)
    {
        try
        {
            if (p[0] is not (Version or FlagsVersion))
                return null;
            byte flags = p[0] == FlagsVersion ? p[1] : (byte)0;
            p = p[(p[0] == FlagsVersion ? 2 : 1)..];
            long when = BinaryPrimitives.ReadInt64LittleEndian(p);
            long next = BinaryPrimitives.ReadInt64LittleEndian(p[8..]);
            p = p[16..];
            string? error = ReadString(ref p);
            int count = BinaryPrimitives.ReadUInt16LittleEndian(p);
            p = p[2..];
            var recipients = new List<RecipientState>(count);
            for (int i = 0; i < count; i++)
            {
                string address = ReadString(ref p) ?? "";
                var status = (RecipientStatus)p[0];
                p = p[1..];
                string? reply = ReadString(ref p);
                recipients.Add(new RecipientState(address, status, reply));
            }
            return new AttemptRecord
            {
                When = DateTimeOffset.FromUnixTimeMilliseconds(when),
                NextAttempt = next == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(next),
                Error = error,
                Recipients = recipients,
                Partial = (flags & PartialFlag) != 0,
                DelayWarned = (flags & DelayWarnedFlag) != 0,
            };
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static void WriteInt64(ArrayBufferWriter<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.GetSpan(4), -1);
            buffer.Advance(4);
            return;
        }
        int length = Encoding.UTF8.GetByteCount(value);
        Span<byte> span = buffer.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        Encoding.UTF8.GetBytes(value, span.Slice(4, length));
        buffer.Advance(4 + length);
    }

    private static string? ReadString(ref ReadOnlySpan<byte> p)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(p);
        p = p[4..];
        if (length < 0)
            return null;
        string value = Encoding.UTF8.GetString(p[..length]);
        p = p[length..];
        return value;
    }
}
