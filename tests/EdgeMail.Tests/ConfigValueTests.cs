using System.Net;
using EdgeMail.Config;
using EdgeMail.Smtp.Client;

namespace EdgeMail.Tests;

/// <summary>What a good config file turns into.</summary>
public sealed class ConfigValueTests
{
    [Fact]
    public void Every_server_key_reaches_the_model()
    {
        EdgeMailConfig c = ConfigText.Load("""
            [server]
            hostname = "mail.example.lan"
            listen = ["0.0.0.0:25", "[::]:25"]
            max_message_size = 10485760
            max_recipients = 5
            max_connections = 6
            max_connections_per_client = 2
            max_errors = 3
            reject_bare_newlines = false
            command_timeout = 11
            data_init_timeout = 12
            data_block_timeout = 13
            data_termination_timeout = 14
            """);

        Assert.Equal("mail.example.lan", c.Server.Hostname);
        Assert.Equal([new IPEndPoint(IPAddress.Any, 25), new IPEndPoint(IPAddress.IPv6Any, 25)], c.Server.ListenEndPoints());
        Assert.Equal(10L << 20, c.Server.MaxMessageSize.Bytes);
        Assert.Equal((5, 6, 2, 3), (c.Server.MaxRecipients, c.Server.MaxConnections, c.Server.MaxConnectionsPerClient, c.Server.MaxErrors));
        Assert.False(c.Server.RejectBareNewlines);
        Assert.Equal((11, 12, 13, 14), (c.Server.CommandTimeout, c.Server.DataInitTimeout, c.Server.DataBlockTimeout, c.Server.DataTerminationTimeout));
    }

    [Fact]
    public void Sizes_with_units_reach_the_model()
    {
        EdgeMailConfig c = ConfigText.Load("[spool]\nmax_size = \"2G\"\nmin_free = \"100MB\"\n");

        Assert.Equal(2L << 30, c.Spool.MaxSize.Bytes);
        Assert.Equal(100_000_000, c.Spool.MinFree.Bytes);
    }

    [Fact]
    public void A_relative_spool_directory_resolves_against_the_current_directory_and_an_absolute_one_stays()
    {
        Assert.Equal("/srv/edgemail/var/q", ConfigText.Load("[spool]\ndirectory = \"var/q\"\n").Spool.Directory);
        Assert.Equal("/var/spool/edgemail", ConfigText.Load("[spool]\ndirectory = \"/var/spool/edgemail\"\n").Spool.Directory);
    }

    [Fact]
    public void Relay_upstreams_keep_their_order_and_get_default_ports()
    {
        EdgeMailConfig c = ConfigText.Load("[relay]\nupstream = [\"smtp+starttls://smtp.example.com\", \"smtps://backup.example.com:2465\", \"smtp://[::1]\"]\n");

        Assert.Equal(
            [
                (TlsMode.StartTlsRequired, "smtp.example.com", 587),
                (TlsMode.Implicit, "backup.example.com", 2465),
                (TlsMode.Opportunistic, "::1", 25),
            ],
            c.Relay.Upstreams().Select(u => (u.Tls, u.Host, u.Port)));
    }

    [Fact]
    public void The_log_level_reaches_the_model()
    {
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, ConfigText.Load("[log]\nlevel = \"debug\"\n").Log.MinimumLevel());
    }

    [Fact]
    public void Comments_and_blank_lines_are_ignored()
    {
        Assert.Equal(9, ConfigText.Load("# hi\n\n[server] # table\nmax_errors = 9 # nine\n").Server.MaxErrors);
    }
}
