using System.Text;
using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>RFC 4954 AUTH exchanges with each mechanism, and the choice between them.</summary>
public sealed class SmtpAuthTests
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static string Ehlo(string auth) => $"""
        S: 220 mx.test
        C: EHLO client.test
        S: 250-mx.test
        S: 250 AUTH {auth}
        """;

    private static Task<(SmtpClientSession Result, ScriptedServer Server, DuplexStream ClientEnd)> Run(string script, SmtpCredentials credentials, Feed feed = Feed.Line, bool allowPlaintext = true) =>
        ScriptedServer.RunAsync(script, feed, stream => ScriptedServer.ConnectAsync(stream, ScriptedServer.Options(credentials, allowPlaintextAuth: allowPlaintext)));

    [Theory, InlineData(Feed.Whole), InlineData(Feed.Line), InlineData(Feed.Byte)]
    public async Task PLAIN_sends_authzid_NUL_user_NUL_password_as_the_initial_response(Feed feed)
    {
        var (s, _, _) = await Run(Ehlo("LOGIN PLAIN") + $"""

            C: AUTH PLAIN {B64("\0user@x.test\0secret")}
            S: 235 2.7.0 Authentication successful
            """, new PasswordCredentials("user@x.test", "secret"), feed);
        Assert.True(s.IsAuthenticated);
    }

    [Fact]
    public async Task LOGIN_answers_the_username_and_password_prompts()
    {
        var (s, _, _) = await Run(Ehlo("LOGIN") + $"""

            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: {B64("user")}
            S: 334 UGFzc3dvcmQ6
            C: {B64("secret")}
            S: 235 2.7.0 ok
            """, new PasswordCredentials("user", "secret"));
        Assert.True(s.IsAuthenticated);
    }

    [Fact]
    public void CRAM_MD5_digest_matches_the_example_of_RFC_2195()
    {
        var response = SmtpAuthenticator.CramMd5Response("tim", "tanstaaftanstaaf", Encoding.ASCII.GetBytes("<1896.697170952@postoffice.reston.mci.net>"));
        Assert.Equal("tim b913a602c7eda7a495b4e6e7334d3890", response);
    }

    [Fact]
    public async Task CRAM_MD5_exchange_as_in_RFC_2195()
    {
        // The challenge and the response are the RFC's own example, in base64 on the wire.
        var (s, _, _) = await Run(Ehlo("CRAM-MD5") + """

            C: AUTH CRAM-MD5
            S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
            C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
            S: 235 2.7.0 ok
            """, new PasswordCredentials("tim", "tanstaaftanstaaf"), allowPlaintext: false);
        Assert.True(s.IsAuthenticated);
    }

    [Fact]
    public async Task XOAUTH2_sends_user_and_bearer_token()
    {
        var (s, _, _) = await Run(Ehlo("XOAUTH2 PLAIN") + $"""

            C: AUTH XOAUTH2 {B64("user=me@gmail.test\u0001auth=Bearer ya29.token\u0001\u0001")}
            S: 235 2.7.0 Accepted
            """, new OAuth2Credentials("me@gmail.test", _ => ValueTask.FromResult("ya29.token")));
        Assert.True(s.IsAuthenticated);
    }

    [Fact]
    public async Task XOAUTH2_error_challenge_is_answered_with_an_empty_line_then_the_535_fails_authentication()
    {
        bool rejected = false;
        var error = B64("""{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}""");
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => Run(Ehlo("XOAUTH2") + $"""

            C: AUTH XOAUTH2 {B64("user=me@gmail.test\u0001auth=Bearer expired\u0001\u0001")}
            S: 334 {error}
            C: 
            S: 535-5.7.8 Username and Password not accepted.
            S: 535 5.7.8 Learn more at https://support.google.test
            """, new OAuth2Credentials("me@gmail.test", _ => ValueTask.FromResult("expired")) { OnTokenRejected = () => rejected = true }));

        Assert.Equal(SmtpFailureKind.AuthFailed, ex.Kind);
        Assert.True(rejected);   // so a token source can drop the token it handed out
        Assert.Equal((535, "5.7.8"), (ex.Reply!.Code, ex.Reply.Enhanced));
        Assert.DoesNotContain("expired", ex.Message);
    }

    [Fact]
    public async Task A_refused_password_fails_authentication_and_never_shows_the_secret()
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => Run(Ehlo("PLAIN") + $"""

            C: AUTH PLAIN {B64("\0user\0hunter2")}
            S: 535 5.7.8 Authentication credentials invalid
            """, new PasswordCredentials("user", "hunter2")));

        Assert.Equal(SmtpFailureKind.AuthFailed, ex.Kind);
        Assert.DoesNotContain("hunter2", ex.ToString());
        Assert.DoesNotContain(B64("\0user\0hunter2"), ex.ToString());
    }

    [Fact]
    public async Task Without_TLS_a_password_is_never_sent_in_the_clear_only_CRAM_MD5_is_used()
    {
        // The script ends after EHLO: any AUTH line the client sent would fail it.
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => Run(Ehlo("PLAIN LOGIN"), new PasswordCredentials("user", "hunter2"), allowPlaintext: false));
        Assert.Equal(SmtpFailureKind.AuthFailed, ex.Kind);
        Assert.Contains("not encrypted", ex.Message);
    }

    [Theory]
    [InlineData(SaslMechanisms.Plain | SaslMechanisms.Login | SaslMechanisms.CramMd5, true, SaslMechanisms.Plain)]
    [InlineData(SaslMechanisms.Login | SaslMechanisms.CramMd5, true, SaslMechanisms.Login)]
    [InlineData(SaslMechanisms.Plain | SaslMechanisms.Login | SaslMechanisms.CramMd5, false, SaslMechanisms.CramMd5)]
    [InlineData(SaslMechanisms.Plain | SaslMechanisms.Login, false, SaslMechanisms.None)]
    public void The_best_password_mechanism_is_PLAIN_inside_TLS_and_CRAM_MD5_over_plain_text(SaslMechanisms offered, bool tls, SaslMechanisms chosen) =>
        Assert.Equal(chosen, SmtpAuthenticator.Choose(new PasswordCredentials("u", "p"), offered, tls, allowPlaintext: false));

    [Fact]
    public void OAuth2_credentials_use_XOAUTH2_only() =>
        Assert.Equal(SaslMechanisms.None, SmtpAuthenticator.Choose(new OAuth2Credentials("u", _ => ValueTask.FromResult("t")), SaslMechanisms.Plain, true, false));

    [Fact]
    public async Task Credentials_for_a_server_without_AUTH_fail_rather_than_send_unauthenticated()
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => Run("""
            S: 220 mx.test
            C: EHLO client.test
            S: 250 mx.test
            """, new PasswordCredentials("u", "p")));
        Assert.Equal(SmtpFailureKind.AuthFailed, ex.Kind);
    }
}
