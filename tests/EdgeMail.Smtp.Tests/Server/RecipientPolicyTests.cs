using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

public class RecipientPolicyTests
{
    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task The_per_recipient_policy_decides_each_rcpt_and_its_refusal_is_the_reply(Feed feed)
    {
        var seen = new List<RecipientCheck>();
        using var smtp = new SmtpScript(o => o.RecipientPolicy = (in RecipientCheck c) =>
        {
            lock (seen)
                seen.Add(c);
            return c.Recipient.EndsWith("@elsewhere.example", StringComparison.Ordinal) ? SmtpReplyKind.BadRecipientAddress : SmtpReplyKind.RecipientOk;
        });
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@example.com>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<x@elsewhere.example>
            S: 501 5.1.3 Bad recipient address syntax
            C: RCPT TO:<ok@example.com>
            S: 250 2.1.5 Recipient ok
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Equal(2, seen.Count);
        Assert.Equal("client.test", seen[0].Helo);
        Assert.Equal("a@example.com", seen[0].Sender);
        Assert.Equal(SmtpScript.Client, seen[0].Client);
    }
}
