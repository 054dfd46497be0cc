using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay.Tests;

public sealed class RouteTests
{
    [Theory]
    [InlineData("smtp://mail.example.com", "mail.example.com", 25, TlsMode.Opportunistic)]
    [InlineData("smtp://mail.example.com:2525", "mail.example.com", 2525, TlsMode.Opportunistic)]
    [InlineData("smtp+starttls://smtp.gmail.com", "smtp.gmail.com", 587, TlsMode.StartTlsRequired)]
    [InlineData("smtps://smtp.example.com", "smtp.example.com", 465, TlsMode.Implicit)]
    [InlineData("smtps://[::1]:4650", "::1", 4650, TlsMode.Implicit)]
    [InlineData("SMTP://Mail.Example.com", "mail.example.com", 25, TlsMode.Opportunistic)]
    public void Upstream_URL_schemes_set_TLS_mode_and_default_port(string url, string host, int port, TlsMode tls)
    {
        var u = Upstream.Parse(url);
        Assert.Equal((host, port, tls), (u.Host, u.Port, u.Tls));
    }

    [Theory]
    [InlineData("smtp://mx.example.com:2525/", "mx.example.com", 2525, TlsMode.Opportunistic)]
    [InlineData("smtps://10.0.0.1", "10.0.0.1", 465, TlsMode.Implicit)]
    [InlineData("SMTPS://[2001:db8::1]:10465", "2001:db8::1", 10465, TlsMode.Implicit)]
    public void An_upstream_URL_may_end_in_a_slash_and_name_an_IP_address(string url, string host, int port, TlsMode tls)
    {
        Assert.True(Upstream.TryParse(url, out var u, out var error), error);
        Assert.Equal((host, port, tls, url), (u.Host, u.Port, u.Tls, u.Url));
    }

    [Theory]
    [InlineData("smtp://user:hunter2@mail.example.com", "contains credentials")]
    [InlineData("http://user:hunter2@mail.example.com", "unsupported scheme \"http\"")]
    [InlineData("user:hunter2@mail.example.com", "is not a URL")]
    [InlineData("http://mail.example.com", "unsupported scheme \"http\"")]
    [InlineData("mail.example.com", "is not a URL")]
    [InlineData("smtp://", "has no host")]
    [InlineData("smtp://mail.example.com/path", "has a path, query or fragment")]
    [InlineData("smtp://mail.example.com?x=1", "has a path, query or fragment")]
    [InlineData("smtp://mail.example.com:0", "invalid port \"0\"")]
    [InlineData("smtp://mail.example.com:99999", "invalid port \"99999\"")]
    [InlineData("smtp://mail example.com", "invalid host \"mail example.com\"")]
    [InlineData("smtp://[zz]:25", "invalid IPv6 host")]
    [InlineData("smtp://[::1]x", "junk after the host")]
    public void Bad_upstream_URLs_are_refused_saying_why_without_echoing_credentials(string url, string why)
    {
        Assert.False(Upstream.TryParse(url, out _, out var error));
        Assert.Contains(why, error);
        Assert.DoesNotContain("hunter2", error);
        var e = Assert.Throws<RelayConfigException>(() => Upstream.Parse(url));
        Assert.Contains(why, e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
    }

    [Fact]
    public void An_upstream_URL_prints_with_its_port()
    {
        Assert.Equal("smtp+starttls://smtp.example.com:587", Upstream.Parse("smtp+starttls://smtp.example.com").ToString());
        Assert.Equal("smtp://[::1]:25", Upstream.Parse("smtp://[::1]").ToString());
    }

    [Fact]
    public void A_CA_file_that_cannot_be_read_stops_the_relay_at_start_up_naming_the_upstream_and_the_file()
    {
        var missing = Path.Combine(Path.GetTempPath(), "edgemail-no-such-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        var e = Assert.Throws<RelayConfigException>(() => new RouteTable(new RelayOptions
        {
            Upstreams = [new UpstreamOptions { Url = "smtps://a.example" }, new UpstreamOptions { Url = "smtps://b.example", CaFile = missing }],
        }, RelaySecrets.None));

        Assert.StartsWith($"upstream smtps://b.example: CA file {missing} cannot be used: ", e.Message);
    }

    [Fact]
    public void A_pin_that_is_not_64_hex_digits_stops_the_relay_at_start_up_naming_the_upstream()
    {
        var e = Assert.Throws<RelayConfigException>(() => new RouteTable(new RelayOptions
        {
            Routes = [new RouteRule { Pattern = "*.lan", Upstreams = [new UpstreamOptions { Url = "smtp://nas.lan", PinnedSha256 = "ab:cd" }] }],
        }, RelaySecrets.None));

        Assert.Equal("upstream smtp://nas.lan: pinned SHA-256 fingerprint \"ab:cd\" is not 64 hex digits (colons optional)", e.Message);
    }

    [Theory]
    [InlineData("*", "example.com", true)]
    [InlineData("*.lan", "nas.lan", true)]
    [InlineData("*.lan", "a.b.LAN", true)]
    [InlineData("*.lan", "lan", false)]
    [InlineData("*.lan", "island", false)]
    [InlineData("example.com", "EXAMPLE.com", true)]
    [InlineData("example.com", "sub.example.com", false)]
    public void Route_patterns(string pattern, string domain, bool matches)
        => Assert.Equal(matches, RouteTable.Matches(pattern, domain));

    [Fact]
    public void The_first_matching_route_wins_then_the_default_upstreams()
    {
        var table = new RouteTable(new RelayOptions
        {
            Routes =
            [
                new RouteRule { Pattern = "*.lan", Upstreams = [new UpstreamOptions { Url = "smtp://nas.lan" }] },
                new RouteRule { Pattern = "*.lan", Upstreams = [new UpstreamOptions { Url = "smtp://never.lan" }] },
                new RouteRule { Pattern = "direct.example", Upstreams = [] },
            ],
            Upstreams = [new UpstreamOptions { Url = "smtps://smarthost.test" }],
        }, RelaySecrets.None);

        Assert.Equal("nas.lan", Assert.Single(table.Resolve("printer.lan").Upstreams).Host);
        Assert.Equal("smarthost.test", Assert.Single(table.Resolve("example.com").Upstreams).Host);
        var direct = table.Resolve("direct.example");
        Assert.True(direct.IsMx);
        Assert.Equal("mx:direct.example", direct.Key);
    }

    [Fact]
    public void Without_upstreams_every_domain_goes_direct_by_MX_with_its_own_route()
    {
        var table = new RouteTable(new RelayOptions(), RelaySecrets.None);
        Assert.True(table.Resolve("a.example").IsMx);
        Assert.NotEqual(table.Resolve("a.example").Key, table.Resolve("b.example").Key);
    }

    [Fact]
    public void Backoff_defaults_stay_within_Postfix_range_and_grow_to_the_cap()
    {
        var o = new RelayOptions { Jitter = 0 };
        var delays = Enumerable.Range(1, 10).Select(n => Backoff.Delay(o, n, new Random(1)).TotalMinutes).ToArray();
        Assert.Equal([5, 10, 20, 40, 70, 70, 70, 70, 70, 70], delays);
    }

    [Fact]
    public void Backoff_jitter_only_shortens_and_by_at_most_the_configured_fraction()
    {
        var o = new RelayOptions { Jitter = 0.2 };
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var d = Backoff.Delay(o, 1, random).TotalMinutes;
            Assert.InRange(d, 4.0, 5.0);
        }
    }

    [Fact]
    public void Credentials_come_from_the_secrets_file_by_upstream_URL()
    {
        var secrets = RelaySecrets.Parse(
        [
            "# comment",
            "[smtp+starttls://smtp.example.com]",
            "user = alice",
            "password = s3cr=et",
            "",
            "[smtps://smtp.gmail.com]",
            "user = bob@gmail.com",
            "oauth2_token_endpoint = https://oauth2.example/token",
            "oauth2_client_id = id",
            "oauth2_client_secret = cs",
            "oauth2_refresh_token = rt",
        ], "secrets");
        var relay = new RelayOptions { HeloName = "edge.test" };
        var password = RouteTable.ClientOptions(new UpstreamOptions { Url = "smtp+starttls://smtp.example.com" }, relay, secrets);
        var p = Assert.IsType<PasswordCredentials>(password.Credentials);
        Assert.Equal(("alice", "s3cr=et"), (p.User, p.Password));
        Assert.Equal("edge.test", password.HeloName);

        var oauth = RouteTable.ClientOptions(new UpstreamOptions { Url = "smtps://smtp.gmail.com" }, relay, secrets);
        Assert.Equal("bob@gmail.com", Assert.IsType<OAuth2Credentials>(oauth.Credentials).User);

        Assert.Null(RouteTable.ClientOptions(new UpstreamOptions { Url = "smtp://other.test" }, relay, secrets).Credentials);
    }

    [Fact]
    public void A_secrets_file_readable_by_group_or_others_is_refused()
    {
        var path = Path.Combine(Path.GetTempPath(), "edgemail-secrets-" + Guid.NewGuid().ToString("N"));
        File.WriteAllLines(path, ["[smtp://a.test]", "user = u", "password = p"]);
        try
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            var e = Assert.Throws<RelayConfigException>(() => RelaySecrets.Load(path));
            Assert.Contains("chmod 600", e.Message);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.OtherRead);
            Assert.Throws<RelayConfigException>(() => RelaySecrets.Load(path));

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Equal("u", RelaySecrets.Load(path).For("smtp://a.test")!.User);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_malformed_secrets_line_is_reported_by_line_number_without_its_content()
    {
        var e = Assert.Throws<RelayConfigException>(() => RelaySecrets.Parse(["[smtp://a.test]", "hunter2"], "secrets"));
        Assert.Contains("secrets:2", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
    }

    [Fact]
    public void Delivery_log_lines_have_Postfix_shape_and_stay_on_one_line()
    {
        var line = DeliveryLog.Line("ABC123", ["a@b.example", "c@d.example"], "mx", "mx.example[192.0.2.1]:25", TimeSpan.FromSeconds(1.234),
            "4.2.0", "deferred", "451 4.2.0 busy\nline two");
        Assert.Equal("ABC123: to=<a@b.example>,<c@d.example>, route=mx, relay=mx.example[192.0.2.1]:25, delay=1.23, dsn=4.2.0, status=deferred (451 4.2.0 busy line two)", line);
    }
}
