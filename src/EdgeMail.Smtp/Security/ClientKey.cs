using System.Net;
using System.Net.Sockets;

namespace EdgeMail.Smtp.Security;

/// <summary>
/// Who "one client" is for limits: an IPv4 address (IPv4-mapped IPv6 folded to IPv4), or an IPv6
/// /64 — a single host can pick any address in its /64 (privacy addresses), so per-address limits
/// on full IPv6 addresses would be trivially dodged.
/// </summary>
internal static class ClientKey
{
    public static UInt128 For(IPAddress address)
    {
        var a = NetworkList.Normalize(address);
        Span<byte> b = stackalloc byte[16];
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            a.TryWriteBytes(b[12..], out _);
            b[10] = b[11] = 0xff; // keep IPv4 keys apart from IPv6 /64 keys
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b);
        }
        a.TryWriteBytes(b, out _);
        b[8..].Clear();
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b);
    }
}
