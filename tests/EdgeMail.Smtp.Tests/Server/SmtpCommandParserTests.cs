using System.Text;
using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Server;
using EdgeMail.Spool;

namespace EdgeMail.Smtp.Tests.Server;

public class SmtpCommandParserTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData("HELO x", SmtpVerb.Helo)]
    [InlineData("ehlo x", SmtpVerb.Ehlo)]
    [InlineData("MaIl FROM:<a@b>", SmtpVerb.Mail)]
    [InlineData("rcpt TO:<a@b>", SmtpVerb.Rcpt)]
    [InlineData("DATA", SmtpVerb.Data)]
    [InlineData("BDAT 10 LAST", SmtpVerb.Bdat)]
    [InlineData("RSET", SmtpVerb.Rset)]
    [InlineData("noop hello", SmtpVerb.Noop)]
    [InlineData("QUIT", SmtpVerb.Quit)]
    [InlineData("HELP mail", SmtpVerb.Help)]
    [InlineData("VRFY root", SmtpVerb.Vrfy)]
    [InlineData("EXPN staff", SmtpVerb.Expn)]
    [InlineData("StartTLS", SmtpVerb.StartTls)]
    [InlineData("AUTH PLAIN", SmtpVerb.Auth)]
    [InlineData("TURN", SmtpVerb.Obsolete)]
    [InlineData("SEND FROM:<a@b>", SmtpVerb.Obsolete)]
    [InlineData("SOML FROM:<a@b>", SmtpVerb.Obsolete)]
    [InlineData("SAML FROM:<a@b>", SmtpVerb.Obsolete)]
    [InlineData("VERB", SmtpVerb.Obsolete)]
    [InlineData("MAILX", SmtpVerb.Unknown)]
    [InlineData("HEL", SmtpVerb.Unknown)]
    [InlineData("", SmtpVerb.Unknown)]
    [InlineData(" HELO x", SmtpVerb.Unknown)]
    public void Verbs_are_compared_as_ascii_case_insensitively(string line, SmtpVerb expected)
    {
        Assert.Equal(expected, SmtpCommandParser.ParseVerb(B(line), out _));
    }

    [Theory]
    [InlineData("FROM:<user@example.com>", "user@example.com")]
    [InlineData("from:<user@example.com>", "user@example.com")]
    [InlineData("FROM: <user@example.com>", "user@example.com")]
    [InlineData("FROM:<>", "")]
    [InlineData("FROM: user@example.com", "user@example.com")]
    [InlineData("FROM:user@example.com", "user@example.com")]
    [InlineData("FROM:<@relay.example,@b.example:user@example.com>", "user@example.com")]
    [InlineData("FROM:<\"odd user\"@example.com>", "\"odd user\"@example.com")]
    [InlineData("FROM:<user@[192.0.2.1]>", "user@[192.0.2.1]")]
    public void Mail_accepts_bracketed_null_and_telnet_paths(string argument, string sender)
    {
        Assert.Equal(SmtpReplyKind.SenderOk, SmtpCommandParser.ParseMail(B(argument), out string parsed, out _));
        Assert.Equal(sender, parsed);
    }

    [Theory]
    [InlineData("", SmtpReplyKind.MailSyntax)]
    [InlineData("FROM", SmtpReplyKind.MailSyntax)]
    [InlineData("FROM user@example.com", SmtpReplyKind.MailSyntax)] // the colon is required (RFC 5321 §4.1.1.2)
    [InlineData("TO:<a@b.example>", SmtpReplyKind.MailSyntax)]
    [InlineData("FROM:", SmtpReplyKind.MailSyntax)]
    [InlineData("FROM:<user@example.com", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<user>", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<us er@example.com>", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<user@exa mple.com>", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<user@@example.com>", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<a<b@example.com>", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<user@example.com>SIZE=1", SmtpReplyKind.BadSenderAddress)]
    [InlineData("FROM:<user@example.com> SIZE=abc", SmtpReplyKind.BadParameterValue)]
    [InlineData("FROM:<user@example.com> SIZE", SmtpReplyKind.BadParameterValue)]
    [InlineData("FROM:<user@example.com> SIZE=1 SIZE=2", SmtpReplyKind.BadParameterValue)]
    [InlineData("FROM:<user@example.com> BODY=BINARYMIME", SmtpReplyKind.BadParameterValue)]
    [InlineData("FROM:<user@example.com> SMTPUTF8=yes", SmtpReplyKind.BadParameterValue)]
    [InlineData("FROM:<user@example.com> RET=HDRS", SmtpReplyKind.UnknownParameter)]
    [InlineData("FROM:<user@example.com> X-FOO", SmtpReplyKind.UnknownParameter)]
    [InlineData("FROM:<jörg@example.com>", SmtpReplyKind.NonAsciiWithoutSmtpUtf8)]
    public void Malformed_mail_gets_the_reply_for_what_is_wrong(string argument, SmtpReplyKind expected)
    {
        Assert.Equal(expected, SmtpCommandParser.ParseMail(B(argument), out _, out _));
    }

    [Fact]
    public void Mail_parameters_size_body_and_smtputf8_are_understood_in_any_case()
    {
        var kind = SmtpCommandParser.ParseMail(B("FROM:<jörg@example.com> size=12345 Body=8bitmime smtputf8"), out string sender, out var p);
        Assert.Equal(SmtpReplyKind.SenderOk, kind);
        Assert.Equal("jörg@example.com", sender);
        Assert.Equal(12345, p.Size);
        Assert.Equal(BodyType.EightBitMime, p.Body);
        Assert.True(p.SmtpUtf8);
    }

    [Fact]
    public void A_size_too_large_for_a_long_is_still_a_number_and_simply_too_big()
    {
        Assert.Equal(SmtpReplyKind.SenderOk, SmtpCommandParser.ParseMail(B("FROM:<a@b.example> SIZE=99999999999999999999"), out _, out var p));
        Assert.Equal(long.MaxValue, p.Size);
    }

    [Theory]
    [InlineData("TO:<user@example.com>", "user@example.com")]
    [InlineData("to: <user@example.com>", "user@example.com")]
    [InlineData("TO: user@example.com", "user@example.com")]
    [InlineData("TO:<Postmaster>", "Postmaster")]
    public void Rcpt_accepts_bracketed_telnet_and_bare_postmaster(string argument, string recipient)
    {
        Assert.Equal(SmtpReplyKind.RecipientOk, SmtpCommandParser.ParseRcpt(B(argument), smtpUtf8: false, out string parsed));
        Assert.Equal(recipient, parsed);
    }

    [Theory]
    [InlineData("", SmtpReplyKind.RcptSyntax)]
    [InlineData("FROM:<a@b.example>", SmtpReplyKind.RcptSyntax)]
    [InlineData("TO:", SmtpReplyKind.RcptSyntax)]
    [InlineData("TO:<>", SmtpReplyKind.BadRecipientAddress)]
    [InlineData("TO:<user>", SmtpReplyKind.BadRecipientAddress)]
    [InlineData("TO:<user@example.com> NOTIFY=NEVER", SmtpReplyKind.UnknownParameter)]
    [InlineData("TO:<jörg@example.com>", SmtpReplyKind.NonAsciiWithoutSmtpUtf8)]
    public void Malformed_rcpt_gets_the_reply_for_what_is_wrong(string argument, SmtpReplyKind expected)
    {
        Assert.Equal(expected, SmtpCommandParser.ParseRcpt(B(argument), smtpUtf8: false, out _));
    }

    [Fact]
    public void Rcpt_with_utf8_is_fine_in_an_smtputf8_transaction()
    {
        Assert.Equal(SmtpReplyKind.RecipientOk, SmtpCommandParser.ParseRcpt(B("TO:<jörg@bücher.example>"), smtpUtf8: true, out string r));
        Assert.Equal("jörg@bücher.example", r);
    }

    [Fact]
    public void Malformed_utf8_is_a_bad_address_even_with_smtputf8()
    {
        byte[] broken = [.. B("FROM:<j"), 0xC3, 0x28, .. B("rg@example.com> SMTPUTF8")];
        Assert.Equal(SmtpReplyKind.BadSenderAddress, SmtpCommandParser.ParseMail(broken, out _, out _));
        byte[] brokenRcpt = [.. B("TO:<j"), 0xFF, .. B("rg@example.com>")];
        Assert.Equal(SmtpReplyKind.BadRecipientAddress, SmtpCommandParser.ParseRcpt(brokenRcpt, smtpUtf8: true, out _));
    }

    [Theory]
    [InlineData("client.example", SmtpReplyKind.Ok)]
    [InlineData("  [192.0.2.1] ", SmtpReplyKind.Ok)]
    [InlineData("", SmtpReplyKind.HeloSyntax)]
    [InlineData("two words", SmtpReplyKind.HeloSyntax)]
    [InlineData("bücher.example", SmtpReplyKind.NonAsciiWithoutSmtpUtf8)]
    public void Helo_needs_exactly_one_name(string argument, SmtpReplyKind expected)
    {
        Assert.Equal(expected, SmtpCommandParser.ParseHelo(B(argument), out _));
    }

    [Fact]
    public void Control_bytes_and_eight_bit_bytes_are_detected()
    {
        Assert.True(SmtpCommandParser.HasControl(B("HELO a\0b")));
        Assert.True(SmtpCommandParser.HasControl(B("HELO a\rb")));
        Assert.False(SmtpCommandParser.HasControl(B("HELO ab")));
        Assert.True(SmtpCommandParser.HasEightBit(B("HELO ä")));
        Assert.False(SmtpCommandParser.HasEightBit(B("HELO a")));
    }
}
