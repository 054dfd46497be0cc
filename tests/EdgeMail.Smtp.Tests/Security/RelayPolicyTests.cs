using EdgeMail.Smtp.Replies;
using System.Net;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Tests.Security;

public class RelayPolicyTests
{
    // The world of the exhaustive test.
    private const string Local = "home.example";
    private static readonly RelayPolicy Policy = new(new RelayPolicyOptions
    {
        AllowedNetworks = NetworkList.Parse(["127.0.0.0/8", "::1/128", "192.168.50.0/24"]),
        LocalDomains = new DomainList([Local]),
        PerUser = new Dictionary<string, RelayRestrictions>(StringComparer.OrdinalIgnoreCase)
        {
            ["printer"] = new(new DomainList(["printer.example"]), new DomainList(["ops.example"])),
        },
        PerNetwork = [(IPNetwork.Parse("192.168.50.0/24"), new RelayRestrictions(new DomainList(["lan.example"]), new DomainList(["partner.example"])))],
    });

    public enum Net { Outside, Allowed, AllowedRestricted }
    public enum Auth { None, User, RestrictedUser }

    private static readonly Dictionary<Net, string[]> Addresses = new()
    {
        // Each network is tried as a plain address and as the IPv4-mapped form a dual-stack socket reports.
        [Net.Outside] = ["203.0.113.5", "::ffff:203.0.113.5", "2001:db8::5", "192.168.51.1"],
        [Net.Allowed] = ["127.0.0.1", "::ffff:127.0.0.1", "::1", "127.9.9.9"],
        [Net.AllowedRestricted] = ["192.168.50.7", "::ffff:192.168.50.7"],
    };
    private static readonly string[] Senders = ["lan.example", "printer.example", "other.example", Local, ""];
    private static readonly string[] Recipients = [Local, "partner.example", "ops.example", "elsewhere.example"];

    public static TheoryData<Net, string, Auth, string, string> EveryCombination()
    {
        var data = new TheoryData<Net, string, Auth, string, string>();
        foreach (var (net, addresses) in Addresses)
            foreach (var address in addresses)
                foreach (var auth in Enum.GetValues<Auth>())
                    foreach (var sender in Senders)
                        foreach (var recipient in Recipients)
                            data.Add(net, address, auth, sender, recipient);
        return data;
    }

    /// <summary>The specification, stated independently of the implementation.</summary>
    private static RelayDecision Expected(Net net, Auth auth, string sender, string recipient)
    {
        bool local = recipient == Local;
        if (auth == Auth.None && net == Net.Outside) return local ? RelayDecision.Accept : RelayDecision.RelayDenied;
        (string? senders, string? recipients) = auth switch
        {
            Auth.RestrictedUser => ("printer.example", "ops.example"),
            Auth.User => (null, null),
            _ => net == Net.AllowedRestricted ? ("lan.example", "partner.example") : (null, null),
        };
        if (senders is not null && sender != senders) return RelayDecision.SenderNotAllowed;
        if (local) return RelayDecision.Accept;
        if (recipients is not null && recipient != recipients) return RelayDecision.RecipientNotAllowed;
        return RelayDecision.Accept;
    }

    [Theory]
    [MemberData(nameof(EveryCombination))]
    public void Every_combination_of_network_auth_sender_and_recipient_follows_the_table(Net net, string address, Auth auth, string sender, string recipient)
    {
        string? user = auth switch { Auth.User => "alice", Auth.RestrictedUser => "printer", _ => null };
        var decision = Policy.Decide(IPAddress.Parse(address), user, sender, recipient);
        Assert.Equal(Expected(net, auth, sender, recipient), decision);

        // The invariant behind the table, checked on its own: mail to a non-local domain is only ever
        // accepted from an authenticated user or an allowed network.
        if (decision == RelayDecision.Accept && recipient != Local)
            Assert.True(user is not null || net != Net.Outside);
    }

    [Fact]
    public void The_defaults_allow_relaying_from_loopback_only()
    {
        var p = new RelayPolicy(new RelayPolicyOptions());
        Assert.Equal(RelayDecision.Accept, p.Decide(IPAddress.Loopback, null, "a.example", "b.example"));
        Assert.Equal(RelayDecision.Accept, p.Decide(IPAddress.IPv6Loopback, null, "a.example", "b.example"));
        Assert.Equal(RelayDecision.Accept, p.Decide(IPAddress.Parse("::ffff:127.0.0.1"), null, "a.example", "b.example"));
        Assert.Equal(RelayDecision.RelayDenied, p.Decide(IPAddress.Parse("192.168.1.10"), null, "a.example", "b.example"));
        Assert.Equal(RelayDecision.RelayDenied, p.Decide(IPAddress.Parse("::ffff:192.168.1.10"), null, "a.example", "b.example"));
        Assert.Equal(RelayDecision.RelayDenied, p.Decide(IPAddress.Parse("fe80::1%2"), null, "a.example", "b.example"));
    }

    [Fact]
    public void Refusals_map_to_the_RFC_replies()
    {
        Assert.Null(RelayPolicy.ReplyFor(RelayDecision.Accept));
        Assert.Equal("554 5.7.1 Relay access denied", SmtpReplies.Get(RelayPolicy.ReplyFor(RelayDecision.RelayDenied)!.Value).ToString());
        Assert.Equal(550, SmtpReplies.Get(RelayPolicy.ReplyFor(RelayDecision.SenderNotAllowed)!.Value).Code);
        Assert.Equal("5.7.1", SmtpReplies.Get(RelayPolicy.ReplyFor(RelayDecision.RecipientNotAllowed)!.Value).EnhancedCode);
    }

    [Fact]
    public void A_per_network_entry_outside_the_allowed_networks_grants_nothing()
    {
        var p = new RelayPolicy(new RelayPolicyOptions
        {
            PerNetwork = [(IPNetwork.Parse("10.0.0.0/8"), new RelayRestrictions(null, new DomainList(["x.example"])))],
        });
        Assert.Equal(RelayDecision.RelayDenied, p.Decide(IPAddress.Parse("10.1.2.3"), null, "a.example", "x.example"));
    }

    [Fact]
    public void The_most_specific_network_restriction_applies()
    {
        var p = new RelayPolicy(new RelayPolicyOptions
        {
            AllowedNetworks = NetworkList.Parse(["10.0.0.0/8"]),
            PerNetwork =
            [
                (IPNetwork.Parse("10.0.0.0/8"), new RelayRestrictions(null, new DomainList(["wide.example"]))),
                (IPNetwork.Parse("10.1.0.0/16"), new RelayRestrictions(null, new DomainList(["narrow.example"]))),
            ],
        });
        Assert.Equal(RelayDecision.Accept, p.Decide(IPAddress.Parse("10.2.0.1"), null, "s.example", "wide.example"));
        Assert.Equal(RelayDecision.RecipientNotAllowed, p.Decide(IPAddress.Parse("10.1.0.1"), null, "s.example", "wide.example"));
        Assert.Equal(RelayDecision.Accept, p.Decide(IPAddress.Parse("10.1.0.1"), null, "s.example", "narrow.example"));
    }

    [Fact]
    public void Domain_lists_match_exactly_case_insensitively_or_by_leading_dot_suffix()
    {
        var d = new DomainList(["Example.COM", ".corp.example"]);
        Assert.True(d.Matches("example.com"));
        Assert.True(d.Matches("example.com."));
        Assert.False(d.Matches("sub.example.com"));
        Assert.False(d.Matches("badexample.com"));
        Assert.True(d.Matches("a.b.corp.example"));
        Assert.False(d.Matches("corp.example"));
        Assert.False(d.Matches("evilcorp.example"));
        Assert.False(d.Matches(""));
    }

    [Theory]
    [InlineData(false, "192.168.1.5", AuthPermission.EncryptionRequired)]
    [InlineData(true, "192.168.1.5", AuthPermission.Allowed)]
    [InlineData(false, "10.9.9.9", AuthPermission.Allowed)]
    [InlineData(false, "::ffff:10.9.9.9", AuthPermission.Allowed)]
    [InlineData(true, "10.9.9.9", AuthPermission.Allowed)]
    [InlineData(false, "127.0.0.1", AuthPermission.EncryptionRequired)]
    public void AUTH_without_TLS_is_allowed_only_in_the_plaintext_auth_networks(bool tls, string client, AuthPermission expected)
    {
        var p = new RelayPolicy(new RelayPolicyOptions { PlaintextAuthNetworks = NetworkList.Parse(["10.0.0.0/8"]) });
        Assert.Equal(expected, p.MayAuthenticate(IPAddress.Parse(client), tls));
    }

    [Fact]
    public void By_default_AUTH_needs_TLS_everywhere_and_is_refused_with_530_5_7_0()
    {
        var p = new RelayPolicy(new RelayPolicyOptions());
        var permission = p.MayAuthenticate(IPAddress.Loopback, tlsActive: false);
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", SmtpReplies.Get(RelayPolicy.ReplyFor(permission)!.Value).ToString());
    }

    [Theory]
    [InlineData("192.168.1.0/24", "192.168.1.200", true)]
    [InlineData("192.168.1.0/24", "::ffff:192.168.1.200", true)]
    [InlineData("::ffff:192.168.1.0/120", "192.168.1.200", true)]
    [InlineData("192.168.1.7", "192.168.1.7", true)]
    [InlineData("192.168.1.7", "192.168.1.8", false)]
    [InlineData("fd00::/8", "fd12::1", true)]
    [InlineData("fd00::/8", "::ffff:253.0.0.1", false)]
    public void Networks_are_CIDR_and_IPv4_mapped_addresses_match_their_IPv4_network(string cidr, string address, bool contained)
    {
        Assert.Equal(contained, NetworkList.Parse([cidr]).Contains(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("10.1.2.3/8")]   // host bits set: probably a typo
    [InlineData("10.0.0.0/33")]
    [InlineData("example.com")]
    [InlineData("")]
    public void Bad_network_entries_are_refused_naming_the_entry(string cidr)
    {
        var e = Assert.Throws<FormatException>(() => NetworkList.Parse([cidr]));
        Assert.Contains($"'{cidr}'", e.Message);
    }
}
