using MimeKit;

namespace EdgeMail.Relay.Tests.Fakes;

/// <summary>Reads the delivery reports the relay sends.</summary>
internal static class Dsn
{
    /// <summary>The message/delivery-status part (RFC 3464) of a multipart/report notice, given as its bytes.</summary>
    public static MessageDeliveryStatus StatusOf(byte[] notice) =>
        (MessageDeliveryStatus)((MultipartReport)MimeMessage.Load(new MemoryStream(notice)).Body!)[1]!;
}
