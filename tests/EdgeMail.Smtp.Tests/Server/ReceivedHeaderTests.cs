using System.Net;
using System.Text;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Smtp.Tests.Server;

public class ReceivedHeaderTests
{
    private static readonly DateTimeOffset When = new(2026, 11, 24, 1, 10, 0, TimeSpan.FromHours(2));

    [Fact]
    public void The_trace_header_follows_rfc_5321_section_4_4()
    {
        var header = Encoding.UTF8.GetString(ReceivedHeader.Build("client.test", IPAddress.Parse("192.0.2.10"), "mx.test", "ESMTP", "ID1", ["ops@example.com"], When));
        Assert.Equal("Received: from client.test ([192.0.2.10])\r\n\tby mx.test (EdgeMail) with ESMTP id ID1\r\n\tfor <ops@example.com>; Mon, 23 Nov 2026 23:10:00 +0000\r\n", header);
    }

    [Fact]
    public void Several_recipients_are_not_named_and_a_missing_helo_is_unknown()
    {
        var header = Encoding.UTF8.GetString(ReceivedHeader.Build("", IPAddress.IPv6Loopback, "mx.test", "SMTP", "ID2", ["a@x.example", "b@x.example"], When));
        Assert.Equal("Received: from unknown ([IPv6:::1])\r\n\tby mx.test (EdgeMail) with SMTP id ID2; Mon, 23 Nov 2026 23:10:00 +0000\r\n", header);
    }

    [Fact]
    public void Ipv4_mapped_addresses_are_written_as_ipv4()
    {
        Assert.Equal("[127.0.0.1]", ReceivedHeader.AddressLiteral(IPAddress.Loopback.MapToIPv6()));
    }

    [Theory]
    [InlineData(false, false, false, false, "SMTP")]
    [InlineData(true, false, false, false, "ESMTP")]
    [InlineData(true, true, false, false, "ESMTPS")]
    [InlineData(true, false, true, false, "ESMTPA")]
    [InlineData(true, true, true, false, "ESMTPSA")]
    [InlineData(true, false, false, true, "UTF8SMTP")]
    [InlineData(true, true, true, true, "UTF8SMTPSA")]
    public void Protocol_names_are_those_of_rfc_3848_and_rfc_6531(bool esmtp, bool tls, bool auth, bool utf8, string expected)
    {
        Assert.Equal(expected, ReceivedHeader.Protocol(esmtp, tls, auth, utf8));
    }
}
