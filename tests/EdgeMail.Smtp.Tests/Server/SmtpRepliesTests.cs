using System.Text;
using EdgeMail.Smtp.Replies;

namespace EdgeMail.Smtp.Tests.Server;

public class SmtpRepliesTests
{
    public static TheoryData<SmtpReplyKind> AllKinds()
    {
        var data = new TheoryData<SmtpReplyKind>();
        foreach (var kind in Enum.GetValues<SmtpReplyKind>())
            data.Add(kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Every_reply_kind_has_one_row_whose_enhanced_code_matches_its_class(SmtpReplyKind kind)
    {
        var reply = SmtpReplies.Get(kind);
        Assert.Equal(kind, reply.Kind);
        Assert.InRange(reply.Code, 200, 599);
        if (reply.EnhancedCode is string enhanced)
        {
            // RFC 3463 §2: the class digit of the enhanced code equals the first digit of the basic code.
            Assert.Equal((char)('0' + reply.Code / 100), enhanced[0]);
            Assert.Matches(@"^[245]\.\d{1,3}\.\d{1,3}$", enhanced);
        }
        else
        {
            // RFC 2034 §3: not on the greeting and the HELO/EHLO replies; 354 asks for data and 334 carries only the
            // SASL challenge (RFC 4954 §4), nothing to classify.
            Assert.Contains(kind, new[] { SmtpReplyKind.Greeting, SmtpReplyKind.Helo, SmtpReplyKind.Ehlo, SmtpReplyKind.StartMailInput, SmtpReplyKind.AuthChallenge });
        }
    }

    [Fact]
    public void Errors_are_4xx_and_5xx_only()
    {
        Assert.True(SmtpReplies.Get(SmtpReplyKind.LocalError).IsError);
        Assert.True(SmtpReplies.Get(SmtpReplyKind.UnknownCommand).IsError);
        Assert.False(SmtpReplies.Get(SmtpReplyKind.StartMailInput).IsError);
        Assert.False(SmtpReplies.Get(SmtpReplyKind.CannotVerify).IsError);
    }

    [Theory]
    [InlineData(SmtpReplyKind.Greeting, "mx.example", "220 mx.example ESMTP EdgeMail\r\n")]
    [InlineData(SmtpReplyKind.Queued, "0ABC123", "250 2.0.0 Ok: queued as 0ABC123\r\n")]
    [InlineData(SmtpReplyKind.ShuttingDown, "", "421 4.3.2 Service shutting down, closing connection\r\n")]
    [InlineData(SmtpReplyKind.TooManyConnections, "", "421 4.7.0 Too many connections, try again later\r\n")]
    [InlineData(SmtpReplyKind.Timeout, "", "421 4.4.2 Timeout exceeded, closing connection\r\n")]
    [InlineData(SmtpReplyKind.LineTooLong, "", "500 5.5.6 Line too long\r\n")]
    [InlineData(SmtpReplyKind.MessageTooBig, "", "552 5.3.4 Message size exceeds fixed limit\r\n")]
    [InlineData(SmtpReplyKind.BareLineEnding, "", "554 5.6.0 Message contains bare CR or LF; use CRLF line endings\r\n")]
    [InlineData(SmtpReplyKind.TooManyRecipients, "", "452 4.5.3 Too many recipients\r\n")]
    [InlineData(SmtpReplyKind.StartMailInput, "", "354 End data with <CR><LF>.<CR><LF>\r\n")]
    public void Replies_are_formatted_as_code_enhanced_code_text(SmtpReplyKind kind, string argument, string expected)
    {
        var buffer = new byte[512];
        int n = SmtpReplies.Format(kind, argument, buffer);
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void A_multiline_reply_uses_dash_on_all_but_the_last_line()
    {
        var buffer = new byte[512];
        int n = SmtpReplies.FormatLine(SmtpReplyKind.Ehlo, "mx.example", buffer, more: true);
        n += SmtpReplies.FormatLine(SmtpReplyKind.Ehlo, "PIPELINING", buffer.AsSpan(n), more: false);
        Assert.Equal("250-mx.example\r\n250 PIPELINING\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }
}
