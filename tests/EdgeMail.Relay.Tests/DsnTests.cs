using System.Text;
using EdgeMail.Spool;
using MimeKit;

namespace EdgeMail.Relay.Tests;

public sealed class DsnTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Only_the_header_block_is_read_from_the_original_whatever_the_read_size(int chunk)
    {
        var message = Encoding.ASCII.GetBytes("Subject: a\r\nFrom: b@c\r\n\r\nbody line\r\n\r\nmore\r\n");
        var headers = DsnComposer.ReadHeaders(new ChunkedStream(message, chunk));
        Assert.Equal("Subject: a\r\nFrom: b@c\r\n\r\n", Encoding.ASCII.GetString(headers));
    }

    [Fact]
    public void Headers_longer_than_the_limit_are_cut_at_a_line_end()
    {
        var line = "X-Long: " + new string('y', 100) + "\r\n";
        var message = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(line, 2000)) + "\r\nbody\r\n");
        var headers = DsnComposer.ReadHeaders(new MemoryStream(message));
        Assert.True(headers.Length <= DsnComposer.MaxHeaderBytes);
        Assert.EndsWith("\r\n", Encoding.ASCII.GetString(headers));
        Assert.Equal(0, headers.Length % line.Length);
    }

    [Fact]
    public void A_DSN_is_a_multipart_report_with_CRLF_line_ends_and_auto_submitted()
    {
        var original = new Envelope { Sender = "alice@edge.test", Recipients = ["bob@example.com"], ClientAddress = "127.0.0.1" };
        var bytes = DsnComposer.Compose("Q1", original,
            [new RecipientOutcome("bob@example.com", RecipientStatus.Failed, "5.1.1", "550 5.1.1 no such user", "mx.example.com", "mx.example.com[192.0.2.1]:25")],
            delayed: false, "edge.test", DateTimeOffset.UnixEpoch, null, "Subject: hi\r\n\r\n"u8.ToArray());
        var text = Encoding.ASCII.GetString(bytes);
        Assert.DoesNotContain("\n", text.Replace("\r\n", ""));
        var dsn = MimeMessage.Load(new MemoryStream(bytes));
        Assert.Equal("auto-replied", dsn.Headers["Auto-Submitted"]);
        Assert.Equal("multipart/report", dsn.Body!.ContentType.MimeType);
        Assert.Equal("delivery-status", dsn.Body.ContentType.Parameters["report-type"]);
        var status = (MessageDeliveryStatus)((MultipartReport)dsn.Body)[1];
        Assert.Equal("dns; edge.test", status.StatusGroups[0]["Reporting-MTA"]);
    }

    [Fact]
    public void A_DSN_has_the_null_sender_and_goes_to_the_original_sender()
    {
        var original = new Envelope { Sender = "alice@edge.test", Recipients = ["bob@example.com"], ClientAddress = "127.0.0.1", SmtpUtf8 = true };
        var e = DsnComposer.EnvelopeFor(original, "edge.test", "Subject: caf\u00e9\r\n\r\n"u8, DateTimeOffset.UnixEpoch);
        Assert.Equal("", e.Sender);
        Assert.Equal(["alice@edge.test"], e.Recipients);
        Assert.Equal(BodyType.EightBitMime, e.Body); // the original headers it carries are 8-bit
        Assert.True(e.SmtpUtf8);
    }

    [Theory]
    [InlineData("127.0.0.1:5353", "127.0.0.1:5353")]
    [InlineData("127.0.0.1", "127.0.0.1:53")]
    [InlineData("[::1]:5353", "[::1]:5353")]
    public void The_DNS_server_is_an_address_with_an_optional_port(string text, string expected)
        => Assert.Equal(expected, MxResolver.ParseServer(text).ToString());

    [Fact]
    public void A_DNS_server_name_is_refused()
        => Assert.Throws<RelayConfigException>(() => MxResolver.ParseServer("dns.example:53"));

    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
    }
}
