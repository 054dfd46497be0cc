using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>RFC 6749 §6 refresh_token grant against a local token endpoint.</summary>
public sealed class OAuth2TokenSourceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task The_refresh_token_grant_posts_the_form_and_returns_the_access_token()
    {
        using var endpoint = new TokenEndpoint(_ => (200, """{"access_token":"ya29.first","expires_in":3599,"token_type":"Bearer"}"""));
        using var source = new OAuth2TokenSource(endpoint.Uri, "client-id", "client-secret", "refresh-1");

        Assert.Equal("ya29.first", await source.GetAccessTokenAsync(CancellationToken.None));

        var form = Assert.Single(endpoint.Requests);
        Assert.Equal("refresh_token", form["grant_type"]);
        Assert.Equal("client-id", form["client_id"]);
        Assert.Equal("client-secret", form["client_secret"]);
        Assert.Equal("refresh-1", form["refresh_token"]);
    }

    [Fact]
    public async Task The_token_is_cached_until_shortly_before_it_expires_then_renewed()
    {
        int n = 0;
        using var endpoint = new TokenEndpoint(_ => (200, $$"""{"access_token":"tok{{++n}}","expires_in":3600}"""));
        var time = new ManualTime(T0);
        using var source = new OAuth2TokenSource(endpoint.Uri, "id", null, "refresh", time: time) { RenewBefore = TimeSpan.FromMinutes(5) };

        Assert.Equal("tok1", await source.GetAccessTokenAsync(CancellationToken.None));
        time.Now = T0.AddMinutes(54);
        Assert.Equal("tok1", await source.GetAccessTokenAsync(CancellationToken.None));
        Assert.Single(endpoint.Requests);

        time.Now = T0.AddMinutes(55);
        Assert.Equal("tok2", await source.GetAccessTokenAsync(CancellationToken.None));
        Assert.Equal(2, endpoint.Requests.Count);
    }

    [Fact]
    public async Task Concurrent_callers_share_one_refresh()
    {
        using var endpoint = new TokenEndpoint(_ => (200, """{"access_token":"shared","expires_in":3600}"""));
        using var source = new OAuth2TokenSource(endpoint.Uri, "id", null, "refresh", time: new ManualTime(T0));

        var tokens = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => source.GetAccessTokenAsync(CancellationToken.None).AsTask())));

        Assert.All(tokens, t => Assert.Equal("shared", t));
        Assert.Single(endpoint.Requests);
    }

    [Fact]
    public async Task A_rotated_refresh_token_is_used_for_the_next_refresh_and_Invalidate_forces_one()
    {
        using var endpoint = new TokenEndpoint(form => (200, $$"""{"access_token":"for-{{form["refresh_token"]}}","expires_in":"3600","refresh_token":"refresh-2"}"""));
        using var source = new OAuth2TokenSource(endpoint.Uri, "id", null, "refresh-1", time: new ManualTime(T0));

        Assert.Equal("for-refresh-1", await source.GetAccessTokenAsync(CancellationToken.None));
        source.Invalidate();
        Assert.Equal("for-refresh-2", await source.GetAccessTokenAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_error_answer_names_the_endpoint_and_the_error_but_no_secret()
    {
        using var endpoint = new TokenEndpoint(_ => (400, """{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"""));
        using var source = new OAuth2TokenSource(endpoint.Uri, "id", "very-secret", "refresh-secret");

        var ex = await Assert.ThrowsAsync<OAuth2Exception>(() => source.GetAccessTokenAsync(CancellationToken.None).AsTask());

        Assert.Contains("invalid_grant: Token has been expired or revoked.", ex.Message);
        Assert.Contains(endpoint.Uri.ToString(), ex.Message);
        Assert.DoesNotContain("very-secret", ex.Message);
        Assert.DoesNotContain("refresh-secret", ex.Message);
    }

    [Fact]
    public async Task XOAUTH2_authenticates_with_the_token_obtained_from_the_endpoint()
    {
        using var endpoint = new TokenEndpoint(_ => (200, """{"access_token":"ya29.live","expires_in":3600}"""));
        using var source = new OAuth2TokenSource(endpoint.Uri, "id", "secret", "refresh");
        var initial = Convert.ToBase64String("user=me@gmail.test\u0001auth=Bearer ya29.live\u0001\u0001"u8.ToArray());

        var (authenticated, _, _) = await ScriptedServer.RunAsync($"""
            S: 220 smtp.gmail.test
            C: EHLO client.test
            S: 250-smtp.gmail.test
            S: 250 AUTH XOAUTH2
            C: AUTH XOAUTH2 {initial}
            S: 235 2.7.0 Accepted
            """, Feed.Line, async stream =>
        {
            var options = ScriptedServer.Options(new OAuth2Credentials("me@gmail.test", source.GetAccessTokenAsync), allowPlaintextAuth: true);
            await using var s = await ScriptedServer.ConnectAsync(stream, options);
            return s.IsAuthenticated;
        });

        Assert.True(authenticated);
    }
}
