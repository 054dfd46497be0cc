using System.Net;
using EdgeMail.Cli;
using EdgeMail.Commands;
using EdgeMail.Config;
using EdgeMail.Hosting;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Tests;

/// <summary>The config sections serve composes from ([relay], [tls], [auth], [policy], [limits]) and the flags over them.</summary>
public sealed class CompositionTests
{
    private static EdgeMailConfig Parse(string toml) => ConfigLoader.Parse(toml, "test.toml", "/x");

    [Theory]
    [InlineData("[relay]\nroutes = [\"*.lan smtp://10.0.0.5\", \"bad*pattern\"]", "relay.routes", 2)]
    [InlineData("[relay]\n\ndns_server = \"not-an-ip\"", "relay.dns_server", 3)]
    [InlineData("[policy]\nallowed_networks = [\"10.1.2.3/8\"]", "policy.allowed_networks", 2)]
    [InlineData("[policy]\nsender_domains = [\"no equals sign\"]", "policy.sender_domains", 2)]
    [InlineData("[limits]\nmessages_per_minute_per_address = -1", "limits.messages_per_minute_per_address", 2)]
    [InlineData("[tls]\nimplicit_listen = [\"nowhere\"]", "tls.implicit_listen", 2)]
    public void A_bad_value_in_a_new_section_names_its_key_and_line(string toml, string key, int line)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(toml));
        Assert.Equal(key, e.Key);
        Assert.Equal(line, e.Line);
    }

    [Fact]
    public void By_default_only_loopback_relays_and_an_outsider_may_not_relay()
    {
        var options = new SmtpServerOptions();
        Composition.ApplySecurity(Parse(""), options);

        Assert.Equal(RelayDecision.Accept, options.Policy!.Decide(IPAddress.Loopback, null, "lan.test", "example.com"));
        Assert.Equal(RelayDecision.RelayDenied, options.Policy.Decide(IPAddress.Parse("192.0.2.7"), null, "lan.test", "example.com"));
        Assert.Null(options.Users);
        Assert.Null(options.Limits);
    }

    [Fact]
    public void Allow_net_replaces_the_allowed_networks_and_users_sets_the_users_file()
    {
        string dir = Directory.CreateTempSubdirectory("ws-comp").FullName;
        try
        {
            var context = new CliContext { Out = TextWriter.Null, Error = TextWriter.Null, CurrentDirectory = dir };
            EdgeMailConfig config = ServeCommand.ResolveConfig(context, new ServeCommand.Request(null, null, "spool", null, false,
                Dns: "127.0.0.1:5353", MxPort: 2525, Users: "users", AllowNet: ["192.0.2.0/24"]));
            var options = new SmtpServerOptions();
            Composition.ApplySecurity(config, options);

            Assert.Equal(RelayDecision.Accept, options.Policy!.Decide(IPAddress.Parse("192.0.2.7"), null, "lan.test", "example.com"));
            Assert.Equal(RelayDecision.RelayDenied, options.Policy.Decide(IPAddress.Loopback, null, "lan.test", "example.com"));
            Assert.Equal(Path.Combine(dir, "users"), options.Users!.FilePath);
            var relay = Composition.Relay(config, "edge.lan");
            Assert.Equal("127.0.0.1:5353", relay.DnsServer);
            Assert.Equal(2525, relay.MxPort);
            Assert.Equal("edge.lan", relay.HeloName);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Relay_settings_map_onto_the_relay_options_routes_in_file_order()
    {
        var relay = Composition.Relay(Parse("""
            [relay]
            upstream = ["smtps://mail.example.com"]
            routes = ["*.lan smtp://10.0.0.5 smtp://10.0.0.6", "example.org"]
            first_retry = 60
            backoff_factor = 3
            max_retry = 600
            delay_warning = 3600
            pinned_sha256 = "AB:cd:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd"
            """), "h");

        Assert.Equal(["*.lan", "example.org"], relay.Routes.Select(r => r.Pattern));
        Assert.Equal(["smtp://10.0.0.5", "smtp://10.0.0.6"], relay.Routes[0].Upstreams.Select(u => u.Url));
        Assert.Empty(relay.Routes[1].Upstreams); // no URL: direct MX for that domain
        Assert.Equal(TimeSpan.FromSeconds(60), relay.FirstRetry);
        Assert.Equal(3.0, relay.BackoffFactor);
        Assert.Equal(TimeSpan.FromSeconds(600), relay.MaxRetry);
        Assert.Equal(TimeSpan.FromHours(1), relay.DelayWarning);
        Assert.Equal("abcd00112233445566778899aabbccddeeff00112233445566778899aabbccdd", relay.Upstreams[0].PinnedSha256);
    }

    private const string PinA = "AB:cd:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";

    [Fact]
    public void An_upstream_with_its_own_tls_entry_is_checked_by_it_alone_and_the_others_by_the_relay_keys()
    {
        var relay = Composition.Relay(Parse($$"""
            [relay]
            upstream = ["smtps://a.example", "smtps://b.example"]
            routes = ["*.lan smtp+starttls://nas.lan"]
            ca_file = "/etc/edgemail/company-ca.pem"
            pinned_sha256 = ""

            [relay.tls."smtps://a.example"]
            pinned_sha256 = "{{PinA}}"

            [relay.tls."smtp+starttls://nas.lan"]
            ca_file = "/etc/edgemail/nas.pem"
            """), "h");

        var (a, b, nas) = (relay.Upstreams[0], relay.Upstreams[1], relay.Routes[0].Upstreams[0]);
        Assert.Equal((null, "abcd00112233445566778899aabbccddeeff00112233445566778899aabbccdd"), (a.CaFile, a.PinnedSha256));
        Assert.Equal(("/etc/edgemail/company-ca.pem", null), (b.CaFile, b.PinnedSha256));
        Assert.Equal(("/etc/edgemail/nas.pem", null), (nas.CaFile, nas.PinnedSha256));
    }

    [Theory]
    [InlineData("[relay]\nupstream = [\"smtps://a.example\"]\ntls = { \"smtps://a.example\" = { ca_file = \"/a.pem\" } }\n")]
    [InlineData("[relay]\nupstream = [\"smtps://a.example\"]\ntls.\"smtps://a.example\".ca_file = \"/a.pem\"\n")]
    [InlineData("relay.upstream = [\"smtps://a.example\"]\nrelay.tls.\"smtps://a.example\".ca_file = \"/a.pem\"\n")]
    [InlineData("[relay]\nupstream = [\"smtps://a.example\"]\n[relay.tls]\n\"smtps://a.example\" = { ca_file = \"/a.pem\" }\n")]
    public void A_tls_entry_may_be_written_inline_or_with_dotted_keys_too(string toml)
    {
        Assert.Equal("/a.pem", Composition.Relay(Parse(toml), "h").Upstreams[0].CaFile);
    }

    [Fact]
    public void Implicit_tls_addresses_become_tls_listeners_after_the_plain_ones()
    {
        var endpoints = Composition.Endpoints(Parse("[tls]\nimplicit_listen = [\"127.0.0.1:0\"]"));

        Assert.Equal([false, true], endpoints.Select(e => e.ImplicitTls));
    }

    [Fact]
    public void Any_nonzero_limit_turns_the_rate_limiter_on()
    {
        var options = new SmtpServerOptions();
        Composition.ApplySecurity(Parse("[limits]\nmessages_per_minute_per_address = 30"), options);

        Assert.NotNull(options.Limits);
    }
}
