using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Smtp.Tests.Server;

public class SmtpStateTableTests
{
    [Theory]
    [InlineData(SmtpSessionState.Connected, SmtpVerb.Mail, SmtpReplyKind.NeedHelo)]
    [InlineData(SmtpSessionState.Connected, SmtpVerb.Rcpt, SmtpReplyKind.NeedHelo)]
    [InlineData(SmtpSessionState.Connected, SmtpVerb.Data, SmtpReplyKind.NeedHelo)]
    [InlineData(SmtpSessionState.Ready, SmtpVerb.Mail, SmtpReplyKind.Ok)]
    [InlineData(SmtpSessionState.Ready, SmtpVerb.Rcpt, SmtpReplyKind.NeedMail)]
    [InlineData(SmtpSessionState.Ready, SmtpVerb.Data, SmtpReplyKind.NeedMail)]
    [InlineData(SmtpSessionState.Mail, SmtpVerb.Mail, SmtpReplyKind.NestedMail)]
    [InlineData(SmtpSessionState.Mail, SmtpVerb.Rcpt, SmtpReplyKind.Ok)]
    [InlineData(SmtpSessionState.Mail, SmtpVerb.Data, SmtpReplyKind.NeedRecipient)]
    [InlineData(SmtpSessionState.Recipients, SmtpVerb.Mail, SmtpReplyKind.NestedMail)]
    [InlineData(SmtpSessionState.Recipients, SmtpVerb.Rcpt, SmtpReplyKind.Ok)]
    [InlineData(SmtpSessionState.Recipients, SmtpVerb.Data, SmtpReplyKind.Ok)]
    [InlineData(SmtpSessionState.Recipients, SmtpVerb.StartTls, SmtpReplyKind.NestedMail)]
    public void Commands_out_of_order_get_503(SmtpSessionState state, SmtpVerb verb, SmtpReplyKind expected)
    {
        var reply = SmtpStateTable.Check(state, verb);
        Assert.Equal(expected, reply);
        if (reply != SmtpReplyKind.Ok)
        {
            Assert.Equal(503, SmtpReplies.Get(reply).Code);
            Assert.Equal("5.5.1", SmtpReplies.Get(reply).EnhancedCode);
        }
    }

    [Theory]
    [InlineData(SmtpVerb.Helo)]
    [InlineData(SmtpVerb.Ehlo)]
    [InlineData(SmtpVerb.Rset)]
    [InlineData(SmtpVerb.Noop)]
    [InlineData(SmtpVerb.Quit)]
    [InlineData(SmtpVerb.Help)]
    [InlineData(SmtpVerb.Vrfy)]
    [InlineData(SmtpVerb.Expn)]
    [InlineData(SmtpVerb.Obsolete)]
    [InlineData(SmtpVerb.Unknown)]
    public void Session_commands_are_allowed_in_every_state(SmtpVerb verb)
    {
        foreach (var state in Enum.GetValues<SmtpSessionState>())
            Assert.Equal(SmtpReplyKind.Ok, SmtpStateTable.Check(state, verb));
    }
}
