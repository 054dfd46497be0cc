using EdgeMail.Smtp.Replies;
using System.Text;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Tests.Security;

public class SaslExchangeTests
{
    private static byte[] B64(string s) => Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(s)));
    private static byte[] A(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void Plain_with_initial_response_yields_the_credentials()
    {
        var step = SaslExchange.Create(AuthMechanism.Plain).Start(B64("\0alice\0s3cret"));
        Assert.Equal(AuthStepKind.Credentials, step.Kind);
        Assert.Equal("alice", step.Credentials!.UserName);
        Assert.Equal("", step.Credentials.AuthorizationId);
        Assert.Equal("s3cret", Encoding.UTF8.GetString(step.Credentials.Password));
        Assert.True(step.Credentials.AuthorizationIdentityAllowed);
    }

    [Fact]
    public void Plain_without_initial_response_sends_an_empty_334_then_takes_the_response_line()
    {
        var x = SaslExchange.Create(AuthMechanism.Plain);
        var first = x.Start([]);
        Assert.Equal(AuthStepKind.Challenge, first.Kind);
        Assert.Equal("", first.Challenge);
        var second = x.Continue(B64("\0bob\0pw"));
        Assert.Equal(AuthStepKind.Credentials, second.Kind);
        Assert.Equal("bob", second.Credentials!.UserName);
    }

    [Fact]
    public void Plain_authzid_equal_to_the_user_is_allowed_and_a_different_one_is_not()
    {
        var same = SaslExchange.Create(AuthMechanism.Plain).Start(B64("alice\0alice\0pw"));
        Assert.True(same.Credentials!.AuthorizationIdentityAllowed);
        var other = SaslExchange.Create(AuthMechanism.Plain).Start(B64("root\0alice\0pw"));
        Assert.Equal(AuthStepKind.Credentials, other.Kind);
        Assert.Equal("root", other.Credentials!.AuthorizationId);
        Assert.False(other.Credentials.AuthorizationIdentityAllowed);
    }

    [Theory]
    [InlineData("alice\0pw")]          // one NUL
    [InlineData("\0alice\0pw\0x")]     // a third NUL inside the password
    [InlineData("\0\0pw")]             // empty authcid
    [InlineData("\0alice\0")]          // empty password
    [InlineData("")]                   // nothing
    public void Plain_messages_that_break_RFC_4616_are_501_5_5_2(string message)
    {
        var step = SaslExchange.Create(AuthMechanism.Plain).Start(message.Length == 0 ? A("=") : B64(message));
        Assert.Equal(AuthStepKind.Failed, step.Kind);
        Assert.Equal(SmtpReplyKind.AuthMalformed, step.Reply);
    }

    [Fact]
    public void Canonical_base64_of_a_valid_message_decodes() // the control for the malformed cases below
    {
        Assert.Equal(AuthStepKind.Credentials, SaslExchange.Create(AuthMechanism.Plain).Start(A("AGFsaWNlAHB3")).Kind); // "\0alice\0pw"
    }

    [Theory]
    [InlineData("AGFsaWNlAHB3=")]      // length not a multiple of 4
    [InlineData("AGFs aWNlAHB3")]      // whitespace
    [InlineData("AGFsa!NlAHB3")]       // outside the alphabet
    [InlineData("AG=saWNlAHB3")]       // padding in the middle
    [InlineData("====")]
    [InlineData("AGFsaWNlAHB3\r")]
    public void Malformed_base64_is_501_5_5_2(string text)
    {
        var step = SaslExchange.Create(AuthMechanism.Plain).Start(A(text));
        Assert.Equal(SmtpReplyKind.AuthMalformed, step.Reply);
        var login = SaslExchange.Create(AuthMechanism.Login);
        login.Start([]);
        Assert.Equal(SmtpReplyKind.AuthMalformed, login.Continue(A(text)).Reply);
    }

    [Fact]
    public void A_star_response_cancels_with_501_5_7_0_for_both_mechanisms()
    {
        var plain = SaslExchange.Create(AuthMechanism.Plain);
        plain.Start([]);
        Assert.Equal(SmtpReplyKind.AuthCancelled, plain.Continue(A("*")).Reply);

        var login = SaslExchange.Create(AuthMechanism.Login);
        login.Start([]);
        Assert.Equal(SmtpReplyKind.AuthCancelled, login.Continue(A("*")).Reply);
        var login2 = SaslExchange.Create(AuthMechanism.Login);
        login2.Start([]);
        login2.Continue(B64("alice"));
        Assert.Equal(SmtpReplyKind.AuthCancelled, login2.Continue(A("*")).Reply);
    }

    [Fact]
    public void Login_asks_for_username_then_password_in_base64()
    {
        var x = SaslExchange.Create(AuthMechanism.Login);
        var s1 = x.Start([]);
        Assert.Equal("Username:", Encoding.ASCII.GetString(Convert.FromBase64String(s1.Challenge!)));
        var s2 = x.Continue(B64("alice"));
        Assert.Equal("Password:", Encoding.ASCII.GetString(Convert.FromBase64String(s2.Challenge!)));
        var s3 = x.Continue(B64("pässword"));
        Assert.Equal(AuthStepKind.Credentials, s3.Kind);
        Assert.Equal("alice", s3.Credentials!.UserName);
        Assert.Equal("pässword", Encoding.UTF8.GetString(s3.Credentials.Password));
    }

    [Fact]
    public void Login_accepts_the_user_name_as_initial_response()
    {
        var x = SaslExchange.Create(AuthMechanism.Login);
        var s1 = x.Start(B64("alice"));
        Assert.Equal(AuthStepKind.Challenge, s1.Kind);
        Assert.Equal(AuthStepKind.Credentials, x.Continue(B64("pw")).Kind);
    }

    [Fact]
    public void Lines_longer_than_RFC_4954_12288_octets_are_refused()
    {
        var x = SaslExchange.Create(AuthMechanism.Plain);
        x.Start([]);
        var step = x.Continue(new byte[SaslExchange.MaxLineLength + 1]);
        Assert.Equal(SmtpReplyKind.AuthLineTooLong, step.Reply);
    }

    [Fact]
    public void Fields_longer_than_255_octets_are_refused_before_decoding()
    {
        var step = SaslExchange.Create(AuthMechanism.Plain).Start(B64("\0" + new string('a', 256) + "\0pw"));
        Assert.Equal(SmtpReplyKind.AuthMalformed, step.Reply);
        var login = SaslExchange.Create(AuthMechanism.Login);
        Assert.Equal(SmtpReplyKind.AuthMalformed, login.Start(B64(new string('u', 300))).Reply);
    }

    [Fact]
    public void Invalid_utf8_in_a_field_is_malformed()
    {
        byte[] msg = [0, (byte)'a', 0, 0xC3, 0x28];
        var step = SaslExchange.Create(AuthMechanism.Plain).Start(Encoding.ASCII.GetBytes(Convert.ToBase64String(msg)));
        Assert.Equal(SmtpReplyKind.AuthMalformed, step.Reply);
    }

    [Theory]
    [InlineData("plain", true)]
    [InlineData("LOGIN", true)]
    [InlineData("Login", true)]
    [InlineData("CRAM-MD5", false)]
    [InlineData("", false)]
    public void Mechanism_names_are_case_insensitive(string name, bool known)
    {
        Assert.Equal(known, SaslExchange.TryParseMechanism(A(name), out _));
    }

    [Fact]
    public void Disposing_credentials_zeroes_the_password()
    {
        var c = SaslExchange.Create(AuthMechanism.Plain).Start(B64("\0a\0secret")).Credentials!;
        var pw = c.Password;
        c.Dispose();
        Assert.All(pw, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Continuing_a_finished_exchange_is_a_programming_error()
    {
        var x = SaslExchange.Create(AuthMechanism.Plain);
        x.Start(B64("\0a\0b"));
        Assert.Throws<InvalidOperationException>(() => x.Continue(A("x")));
    }
}
