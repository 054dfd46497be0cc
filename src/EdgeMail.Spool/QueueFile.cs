using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace EdgeMail.Spool;

/// <summary>
/// The queue file format (version 1), written once and never modified:
/// <code>
///   header   "EMQF" | u8 version | u8 0 | u32 header length (whole header, LE)
///            records: u8 tag | u32 length (LE) | value bytes        (strings are UTF-8)
///   message  the raw message bytes, exactly as received (after our Received: line)
///   trailer  "EMQT" | u64 message length | u64 XxHash64(header ‖ message) | "END\n"
/// </code>
/// Every field is length-prefixed, so no envelope string (UTF-8 addresses under SMTPUTF8, a hostile
/// HELO with CR/LF) can forge another field. A file is valid only when the header parses, the trailer
/// is in place with its END marker, the message length matches the file size and — on the full
/// check — the checksum matches: a half-written, truncated or damaged file is always detected
/// (as with Postfix's END record, but with a checksum for bit rot on SD cards).
/// </summary>
internal static class QueueFile
{
    internal const byte Version = 1;
    internal const int PreambleLength = 10;
    internal const int TrailerLength = 24;
    /// <summary>Upper bound for a header: 1 MiB is thousands of recipients; anything larger is damage.</summary>
    internal const int MaxHeaderLength = 1 << 20;

    private static ReadOnlySpan<byte> HeaderMagic => "EMQF"u8;
    private static ReadOnlySpan<byte> TrailerMagic => "EMQT"u8;
    private static ReadOnlySpan<byte> EndMarker => "END\n"u8;

    private const byte TagId = (byte)'I';
    private const byte TagArrived = (byte)'T';
    private const byte TagClient = (byte)'C';
    private const byte TagHelo = (byte)'H';
    private const byte TagProtocol = (byte)'P';
    private const byte TagSender = (byte)'S';
    private const byte TagRecipient = (byte)'R';
    private const byte TagBody = (byte)'B';
    private const byte TagSmtpUtf8 = (byte)'U';
    private const byte TagAuthUser = (byte)'A';

    internal static byte[] EncodeHeader(string id, Envelope envelope)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write(HeaderMagic);
        buffer.Write<byte>([Version, 0, 0, 0, 0, 0]);
        WriteString(buffer, TagId, id);
        Span<byte> ms = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(ms, envelope.Arrived.ToUnixTimeMilliseconds());
        WriteField(buffer, TagArrived, ms);
        WriteString(buffer, TagClient, envelope.ClientAddress);
        WriteString(buffer, TagHelo, envelope.Helo);
        WriteString(buffer, TagProtocol, envelope.Protocol);
        WriteString(buffer, TagSender, envelope.Sender);
        foreach (string recipient in envelope.Recipients)
            WriteString(buffer, TagRecipient, recipient);
        WriteField(buffer, TagBody, [(byte)envelope.Body]);
        WriteField(buffer, TagSmtpUtf8, [envelope.SmtpUtf8 ? (byte)1 : (byte)0]);
        if (envelope.AuthenticatedUser is not null)
            WriteString(buffer, TagAuthUser, envelope.AuthenticatedUser);
        if (buffer.WrittenCount > MaxHeaderLength)
            throw new SpoolException(SpoolError.IoError, "envelope too large for a queue file header");
        byte[] header = buffer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(6), (uint)header.Length);
        return header;
    }

    internal static byte[] EncodeTrailer(long messageLength, ulong checksum)
    {
        var trailer = new byte[TrailerLength];
        TrailerMagic.CopyTo(trailer);
        BinaryPrimitives.WriteInt64LittleEndian(trailer.AsSpan(4), messageLength);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer.AsSpan(12), checksum);
        EndMarker.CopyTo(trailer.AsSpan(20));
        return trailer;
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, byte tag, string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        Span<byte> prefix = buffer.GetSpan(5 + length);
        prefix[0] = tag;
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[1..], (uint)length);
        Encoding.UTF8.GetBytes(value, prefix.Slice(5, length));
        buffer.Advance(5 + length);
    }

    private static void WriteField(ArrayBufferWriter<byte> buffer, byte tag, ReadOnlySpan<byte> value)
    {
        Span<byte> span = buffer.GetSpan(5 + value.Length);
        span[0] = tag;
        BinaryPrimitives.WriteUInt32LittleEndian(span[1..], (uint)value.Length);
        value.CopyTo(span[5..]);
        buffer.Advance(5 + value.Length);
    }

    /// <summary>What a valid queue file says about itself.</summary>
    internal sealed record Info(string Id, Envelope Envelope, int HeaderLength, long MessageLength, long FileLength, ulong Checksum);

    /// <summary>Reads and checks the header and trailer; with <paramref name="verifyChecksum"/> also reads
    /// every byte and checks the checksum. Returns null with a reason when the file is not valid.</summary>
    internal static Info? TryRead(SafeFileHandle file, bool verifyChecksum, out string reason)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < PreambleLength + TrailerLength)
            return Fail("truncated (shorter than header and trailer)", out reason);

        Span<byte> preamble = stackalloc byte[PreambleLength];
        if (ReadExactly(file, preamble, 0) != PreambleLength || !preamble[..4].SequenceEqual(HeaderMagic))
            return Fail("bad magic", out reason);
        if (preamble[4] != Version)
            return Fail($"unknown format version {preamble[4]}", out reason);
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(preamble[6..]);
        if (headerLength < PreambleLength || headerLength > MaxHeaderLength || headerLength + TrailerLength > fileLength)
            return Fail("bad header length", out reason);

        Span<byte> trailer = stackalloc byte[TrailerLength];
        if (ReadExactly(file, trailer, fileLength - TrailerLength) != TrailerLength)
            return Fail("truncated trailer", out reason);
        if (!trailer[..4].SequenceEqual(TrailerMagic) || !trailer[20..].SequenceEqual(EndMarker))
            return Fail("no trailer/END marker (incomplete write)", out reason);
        long messageLength = BinaryPrimitives.ReadInt64LittleEndian(trailer[4..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(trailer[12..]);
        if (messageLength != fileLength - headerLength - TrailerLength)
            return Fail("message length does not match file size", out reason);

        byte[] header = new byte[headerLength];
        if (ReadExactly(file, header, 0) != header.Length)
            return Fail("truncated header", out reason);
        Envelope? envelope = ParseHeader(header, out string? id, out reason);
        if (envelope is null || id is null)
            return null;

        if (verifyChecksum)
        {
            var hash = new XxHash64();
            byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                long end = fileLength - TrailerLength;
                for (long offset = 0; offset < end;)
                {
                    int want = (int)Math.Min(chunk.Length, end - offset);
                    int got = ReadExactly(file, chunk.AsSpan(0, want), offset);
                    if (got != want)
                        return Fail("short read", out reason);
                    hash.Append(chunk.AsSpan(0, got));
                    offset += got;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
            if (hash.GetCurrentHashAsUInt64() != checksum)
                return Fail("checksum mismatch", out reason);
        }
        reason = "";
        return new Info(id, envelope, (int)headerLength, messageLength, fileLength, checksum);
    }

    private static Envelope? ParseHeader(ReadOnlySpan<byte> header, out string? id, out string reason)
    {
        id = null;
        long? arrived = null;
        string? client = null, helo = null, protocol = null, sender = null, authUser = null;
        var recipients = new List<string>();
        BodyType body = BodyType.SevenBit;
        bool smtpUtf8 = false;

        var rest = header[PreambleLength..];
        while (!rest.IsEmpty)
        {
            if (rest.Length < 5)
                return FailEnvelope("truncated header record", out reason);
            byte tag = rest[0];
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(rest[1..]);
            if (length > rest.Length - 5)
                return FailEnvelope("header record overruns header", out reason);
            var value = rest.Slice(5, (int)length);
            rest = rest[(5 + (int)length)..];
            switch (tag)
            {
                case TagId: id = Encoding.UTF8.GetString(value); break;
                case TagArrived when length == 8: arrived = BinaryPrimitives.ReadInt64LittleEndian(value); break;
                case TagClient: client = Encoding.UTF8.GetString(value); break;
                case TagHelo: helo = Encoding.UTF8.GetString(value); break;
                case TagProtocol: protocol = Encoding.UTF8.GetString(value); break;
                case TagSender: sender = Encoding.UTF8.GetString(value); break;
                case TagRecipient: recipients.Add(Encoding.UTF8.GetString(value)); break;
                case TagBody when length == 1: body = (BodyType)value[0]; break;
                case TagSmtpUtf8 when length == 1: smtpUtf8 = value[0] != 0; break;
                case TagAuthUser: authUser = Encoding.UTF8.GetString(value); break;
                default: break; // unknown (newer, optional) records are skipped: the checksum guards integrity
            }
        }
        if (id is null || !QueueId.IsValid(id))
            return FailEnvelope("missing or invalid queue ID in header", out reason);
        if (arrived is null || client is null || sender is null || recipients.Count == 0)
            return FailEnvelope("header lacks arrival, client, sender or recipients", out reason);
        reason = "";
        try
        {
            return new Envelope
            {
                Sender = sender,
                Recipients = recipients,
                ClientAddress = client,
                Helo = helo ?? "",
                Protocol = protocol ?? "ESMTP",
                Body = body,
                SmtpUtf8 = smtpUtf8,
                AuthenticatedUser = authUser,
                Arrived = DateTimeOffset.FromUnixTimeMilliseconds(arrived.Value),
            };
        }
        catch (ArgumentOutOfRangeException)
        {
            return FailEnvelope("arrival time out of range", out reason);
        }
    }

    internal static int ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[total..], offset + total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    private static Info? Fail(string why, out string reason)
    {
        reason = why;
        return null;
    }

    private static Envelope? FailEnvelope(string why, out string reason)
    {
        reason = why;
        return null;
    }
}
