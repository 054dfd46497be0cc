using EdgeMail.Smtp.Security;

namespace EdgeMail.Config;

/// <summary>[auth] — SMTP AUTH (RFC 4954) users, and where plaintext AUTH without TLS is tolerated.</summary>
public sealed class AuthConfig
{
    public string UsersFile { get; set; } = "";
    public List<string> PlaintextNetworks { get; set; } = [];

    public static ConfigSection Schema { get; } = new("auth",
    [
        new("users_file", ConfigValueType.Text(_ => null, "a path made with `edgemail user add`, or \"\" for no AUTH")),
        new("plaintext_networks", ConfigValueType.ListOf(PolicyConfig.Cidr)),
    ]);
}

/// <summary>[policy] — who may relay (RFC 5321 §3.6.2 / RFC 5068: no open relay) and to where.</summary>
public sealed class PolicyConfig
{
    public List<string> AllowedNetworks { get; set; } = ["127.0.0.0/8", "::1/128"];
    public List<string> LocalDomains { get; set; } = [];
    public List<string> SenderDomains { get; set; } = [];
    public List<string> RecipientDomains { get; set; } = [];

    internal static readonly ConfigValueType Cidr = ConfigValueType.Text(CheckCidr, "a network \"ADDRESS/BITS\" or a single address");
    private const string RestrictionAllowed = "\"WHO=DOMAIN[,DOMAIN...]\" where WHO is a user name or a network ADDRESS/BITS";
    private static readonly ConfigValueType Restriction = ConfigValueType.Text(CheckRestriction, RestrictionAllowed);

    public static ConfigSection Schema { get; } = new("policy",
    [
        new("allowed_networks", ConfigValueType.ListOf(Cidr)),
        new("local_domains", ConfigValueType.ListOf(ConfigValueType.Text(d => ServerConfig.CheckHostname(d.TrimStart('.')), "a domain (exactly) or .domain (any subdomain)"))),
        new("sender_domains", ConfigValueType.ListOf(Restriction)),
        new("recipient_domains", ConfigValueType.ListOf(Restriction)),
    ]);

    internal static string? CheckCidr(string text)
    {
        try
        {
            NetworkList.ParseOne(text);
            return null;
        }
        catch (FormatException)
        {
            return $"\"{text}\" is not a network";
        }
    }

    internal static string? CheckRestriction(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) return $"\"{text}\" is not WHO=DOMAIN[,DOMAIN...]";
        string who = text[..eq];
        if (who.Contains('/') || System.Net.IPAddress.TryParse(who, out _))
            return CheckCidr(who);
        return UserStore.IsValidUserName(who) ? null : $"\"{who}\" is neither a user name nor a network";
    }

    /// <summary>Splits "WHO=a,b" entries; networks and users apart.</summary>
    internal static IEnumerable<(string Who, bool IsNetwork, string[] Domains)> Entries(IEnumerable<string> list)
    {
        foreach (string text in list)
        {
            int eq = text.IndexOf('=');
            string who = text[..eq];
            yield return (who, who.Contains('/') || System.Net.IPAddress.TryParse(who, out _),
                text[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
    }
}

/// <summary>[limits] — per-client rates; 0 = no limit.</summary>
public sealed class LimitsConfig
{
    public int MessagesPerMinutePerAddress { get; set; }
    public int MessagesPerMinutePerUser { get; set; }
    public int ConnectionsPerAddress { get; set; }

    public static ConfigSection Schema { get; } = new("limits",
    [
        new("messages_per_minute_per_address", ConfigValueType.Integer(0, 1_000_000)),
        new("messages_per_minute_per_user", ConfigValueType.Integer(0, 1_000_000)),
        new("connections_per_address", ConfigValueType.Integer(0, 100_000)),
    ]);

    public bool Any() => MessagesPerMinutePerAddress > 0 || MessagesPerMinutePerUser > 0 || ConnectionsPerAddress > 0;
}
