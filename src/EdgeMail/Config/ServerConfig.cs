using System.Net;
namespace EdgeMail.Config;

/// <summary>[server] — the receiving SMTP server.</summary>
public sealed class ServerConfig
{
    /// <summary>Name in the greeting, EHLO reply and Received: header; empty = the system's host name.</summary>
    public string Hostname { get; set; } = "";
    public List<string> Listen { get; set; } = ["127.0.0.1:2525"];
    public ByteSize MaxMessageSize { get; set; } = new(25L << 20);
    public int MaxRecipients { get; set; } = 100;
    public int MaxConnections { get; set; } = 100;
    public int MaxConnectionsPerClient { get; set; } = 20;
    public int MaxErrors { get; set; } = 10;
    public bool RejectBareNewlines { get; set; } = true;
    // RFC 5321 §4.5.3.2: server timeout 5 min; DATA initiation 2 min; data block 3 min; DATA termination 10 min.
    public int CommandTimeout { get; set; } = 300;
    public int DataInitTimeout { get; set; } = 120;
    public int DataBlockTimeout { get; set; } = 180;
    public int DataTerminationTimeout { get; set; } = 600;

    public static ConfigSection Schema { get; } = new("server",
    [
        new("hostname", ConfigValueType.Text(CheckHostname, "a host name such as \"mail.example.lan\" (letters, digits, '-', '.'), or \"\" for the system's host name")),
        new("listen", ConfigValueType.ListOf(ConfigValueType.Text(s => ListenAddress.TryParse(s, out _), ListenAddress.Allowed), minCount: 1)),
        new("max_message_size", ConfigValueType.Size(1024, 4L << 30)),
        new("max_recipients", ConfigValueType.Integer(1, 100_000)),
        new("max_connections", ConfigValueType.Integer(1, 100_000)),
        new("max_connections_per_client", ConfigValueType.Integer(1, 100_000)),
        new("max_errors", ConfigValueType.Integer(1, 1000)),
        new("reject_bare_newlines", ConfigValueType.Boolean),
        new("command_timeout", ConfigValueType.Seconds(1, 86_400)),
        new("data_init_timeout", ConfigValueType.Seconds(1, 86_400)),
        new("data_block_timeout", ConfigValueType.Seconds(1, 86_400)),
        new("data_termination_timeout", ConfigValueType.Seconds(1, 86_400)),
    ]);

    /// <summary>The listen addresses as endpoints (already validated by the schema or the CLI).</summary>
    public IReadOnlyList<IPEndPoint> ListenEndPoints()
    {
        var endPoints = new List<IPEndPoint>(Listen.Count);
        foreach (string text in Listen)
        {
            if (ListenAddress.TryParse(text, out IPEndPoint endPoint) is { } error)
                throw new ConfigException("server.listen", error, ListenAddress.Allowed);
            endPoints.Add(endPoint);
        }
        return endPoints;
    }

    // RFC 1123 §2.1 host names; the name goes into every greeting and Received: line, so no spaces or CRLF.
    internal static string? CheckHostname(string name)
    {
        if (name.Length == 0) return null;
        if (name.Length > 253) return "is longer than 253 characters";
        foreach (string label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                return $"\"{name}\" is not a valid host name";
        }
        return null;
    }
}
