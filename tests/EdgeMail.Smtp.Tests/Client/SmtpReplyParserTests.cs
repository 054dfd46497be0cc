using System.Text;
using EdgeMail.Smtp.Client;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>RFC 5321 §4.2 reply lines and RFC 2034/3463 enhanced status codes, parsed from bytes.</summary>
public sealed class SmtpReplyParserTests
{
    private static SmtpReply Parse(params string[] lines)
    {
        var parser = new SmtpReplyParser();
        foreach (var line in lines)
        {
            parser.Feed(Encoding.UTF8.GetBytes(line), out _, out var error);
            Assert.Null(error);
        }
        Assert.True(parser.IsComplete);
        return parser.ToReply();
    }

    private static string? Error(params string[] lines)
    {
        var parser = new SmtpReplyParser();
        foreach (var line in lines)
        {
            parser.Feed(Encoding.UTF8.GetBytes(line), out _, out var error);
            if (error is not null) return error;
        }
        return null;
    }

    [Fact]
    public void A_single_line_reply_with_an_enhanced_code() =>
        Assert.Equal(new SmtpReply(250, "2.1.5", "Recipient ok"), Parse("250 2.1.5 Recipient ok"));

    [Fact]
    public void A_multi_line_reply_joins_its_texts_with_LF_and_drops_the_repeated_enhanced_code() =>
        Assert.Equal(new SmtpReply(550, "5.7.1", "first\nsecond\nthird"), Parse("550-5.7.1 first", "550-5.7.1 second", "550 5.7.1 third"));

    [Theory]
    [InlineData("250 ok", null, "ok")]
    [InlineData("250", null, "")]
    [InlineData("250 2.0.0", "2.0.0", "")]
    [InlineData("451 4.7.650 throttled", "4.7.650", "throttled")]
    [InlineData("250 5.1.1 not an enhanced code for a 2xx", null, "5.1.1 not an enhanced code for a 2xx")]
    [InlineData("250 2.1234.0 too long", null, "2.1234.0 too long")]
    [InlineData("250 2.1.5x", null, "2.1.5x")]
    [InlineData("334 VXNlcm5hbWU6", null, "VXNlcm5hbWU6")]
    public void The_enhanced_code_is_recognised_only_when_well_formed_and_of_the_replys_class(string line, string? enhanced, string text) =>
        Assert.Equal(new SmtpReply(int.Parse(line[..3]), enhanced, text), Parse(line));

    [Theory]
    [InlineData("25 short")]
    [InlineData("hello")]
    [InlineData("2500 ok")]
    [InlineData("650 out of range")]
    public void A_line_without_a_valid_code_is_an_error(string line) => Assert.NotNull(Error(line));

    [Fact]
    public void Lines_of_one_reply_must_carry_the_same_code() =>
        Assert.Contains("different codes", Error("250-a", "251 b"));
}
