using EdgeMail.Config;

namespace EdgeMail.Tests;

/// <summary>A bad config stops start-up with the key, its line and column, and what is allowed.</summary>
public sealed class ConfigErrorTests
{
    [Fact]
    public void An_unknown_key_is_named_with_its_line_and_column_and_the_keys_that_exist()
    {
        ConfigException e = ConfigText.Refuses("[server]\nhostname = \"a\"\n  max_recipient = 5\n",
            key: "server.max_recipient", allowedContains: "max_recipients");

        Assert.Equal((3, 3), (e.Line, e.Column));
        Assert.StartsWith("test.toml:3:3: server.max_recipient: unknown key", e.Message);
    }

    [Fact]
    public void An_unknown_section_is_named_with_the_sections_that_exist()
    {
        ConfigException e = ConfigText.Refuses("\n[sever]\nhostname = \"a\"\n", key: "sever", allowedContains: "[server]");

        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void An_unknown_top_level_key_is_refused()
    {
        Assert.Equal(1, ConfigText.Refuses("debug = true\n", key: "debug").Line);
    }

    [Fact]
    public void A_sub_table_of_a_section_is_refused()
    {
        ConfigException e = ConfigText.Error("[server.tls]\ncert = \"x\"\n");

        Assert.Equal(1, e.Line);
        Assert.Contains("unknown table [server.tls]", e.Message);
    }

    [Fact]
    public void A_plain_section_written_as_a_list_of_tables_is_refused()
    {
        ConfigException e = ConfigText.Error("[[server]]\nmax_errors = 1\n");

        Assert.Equal("[server]", e.Allowed);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Unknown_keys_are_found_in_dotted_and_inline_forms_too()
    {
        Assert.Equal("server.hostnam", ConfigText.Error("server.hostnam = \"x\"\n").Key);
        Assert.Equal("spool.dir", ConfigText.Error("spool = { dir = \"x\" }\n").Key);
    }

    [Fact]
    public void Dotted_and_inline_forms_of_known_keys_are_read()
    {
        EdgeMailConfig config = ConfigText.Load("server.max_recipients = 7\nspool = { directory = \"q\" }\n");

        Assert.Equal(7, config.Server.MaxRecipients);
        Assert.Equal("/srv/edgemail/q", config.Spool.Directory);
    }

    [Fact]
    public void A_string_where_an_integer_belongs_names_the_key_the_value_position_and_the_range()
    {
        ConfigException e = ConfigText.Refuses("[server]\nmax_recipients = \"plenty\"\n",
            key: "server.max_recipients", problemContains: "expected an integer, found a string");

        Assert.Equal((2, 18), (e.Line, e.Column));
        Assert.Equal("an integer from 1 to 100000", e.Allowed);
    }

    [Fact]
    public void An_integer_out_of_range_is_refused()
    {
        ConfigText.Refuses("[server]\nmax_connections = 0\n", key: "server.max_connections", problemContains: "out of range");
    }

    [Fact]
    public void A_word_where_a_boolean_belongs_is_refused()
    {
        ConfigException e = ConfigText.Error("[server]\nreject_bare_newlines = \"yes\"\n");

        Assert.Equal("true or false", e.Allowed);
    }

    [Fact]
    public void A_size_with_an_unknown_unit_is_refused_with_the_units_that_exist()
    {
        ConfigText.Refuses("[server]\nmax_message_size = \"25 MegaBytes\"\n",
            key: "server.max_message_size", problemContains: "unknown unit \"MegaBytes\"", allowedContains: "MiB");
    }

    [Fact]
    public void A_fractional_size_is_refused()
    {
        ConfigText.Refuses("[spool]\nmax_size = \"1.5G\"\n", key: "spool.max_size");
    }

    [Fact]
    public void A_bad_listen_address_points_at_the_bad_element_of_the_list()
    {
        ConfigException e = ConfigText.Refuses("[server]\nlisten = [\"127.0.0.1:25\",\n  \"0.0.0.0\"]\n",
            key: "server.listen", problemContains: "not HOST:PORT", allowedContains: "[::1]");

        Assert.Equal((3, 3), (e.Line, e.Column));
    }

    [Fact]
    public void An_empty_listen_list_is_refused()
    {
        ConfigText.Refuses("[server]\nlisten = []\n", problemContains: "at least 1");
    }

    [Fact]
    public void A_bad_relay_url_is_refused_with_the_schemes_that_exist()
    {
        ConfigText.Refuses("[relay]\nupstream = [\"http://mail.example.com\"]\n",
            key: "relay.upstream", problemContains: "unsupported scheme", allowedContains: "smtp+starttls://");
    }

    [Fact]
    public void A_relay_url_with_credentials_is_refused()
    {
        ConfigText.Refuses("[relay]\nupstream = [\"smtps://me:secret@mail.example.com\"]\n", problemContains: "credentials");
    }

    [Fact]
    public void A_tls_entry_for_a_URL_no_upstream_or_route_uses_is_refused_naming_its_line_and_the_URLs_in_use()
    {
        ConfigException e = ConfigText.Refuses("""
            [relay]
            upstream = ["smtps://mail.example.com"]
            routes = ["*.lan smtp://10.0.0.5"]

            [relay.tls."smtps://mail.example.com:465"]
            pinned_sha256 = ""
            """, key: "relay.tls.\"smtps://mail.example.com:465\"", problemContains: "is not an upstream");

        Assert.Equal(5, e.Line);
        Assert.Equal("one of \"smtps://mail.example.com\", \"smtp://10.0.0.5\"", e.Allowed);
    }

    [Theory]
    [InlineData("[relay.tls.\"smtps://a.example\"]\ncafile = \"/ca.pem\"", "relay.tls.\"smtps://a.example\".cafile", 4, "unknown key")]
    [InlineData("[relay.tls.\"smtps://a.example\"]\npinned_sha256 = \"abc\"", "relay.tls.\"smtps://a.example\".pinned_sha256", 4, "not a SHA-256 fingerprint")]
    [InlineData("[relay.tls.\"smtps://a.example\"]\nca_file = 5", "relay.tls.\"smtps://a.example\".ca_file", 4, "expected a string")]
    [InlineData("[relay.tls.\"smtps://me:pw@a.example\"]", "relay.tls", 3, "contains credentials")]
    [InlineData("[relay.tls.\"smtps://a.example\".x]", "relay.tls", 3, "unknown table")]
    [InlineData("[relay.tls]\n\"smtps://a.example\" = 1", "relay.tls.\"smtps://a.example\"", 4, "expected a table")]
    [InlineData("tls = { \"smtps://a.example\" = { pin = \"\" } }", "relay.tls.\"smtps://a.example\".pin", 3, "unknown key")]
    public void A_bad_tls_entry_names_its_key_and_line(string entry, string key, int line, string problem)
    {
        ConfigException e = ConfigText.Error("[relay]\nupstream = [\"smtps://a.example\"]\n" + entry + "\n");

        Assert.Equal(key, e.Key);
        Assert.Equal(line, e.Line);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain("pw@", e.Message);
    }

    [Fact]
    public void A_host_name_with_a_space_is_refused()
    {
        // The name goes into the greeting and Received: header.
        ConfigText.Refuses("[server]\nhostname = \"mail host\"\n", key: "server.hostname");
    }

    [Fact]
    public void A_log_level_outside_the_list_is_refused()
    {
        ConfigText.Refuses("[log]\nlevel = \"loud\"\n", allowedContains: "\"debug\"");
    }

    [Fact]
    public void A_TOML_syntax_error_names_its_line()
    {
        Assert.Equal(2, ConfigText.Refuses("[server]\nmax_recipients = = 5\n", problemContains: "syntax error").Line);
    }

    [Fact]
    public void A_duplicate_key_is_a_syntax_error()
    {
        Assert.Equal(3, ConfigText.Error("[server]\nmax_errors = 1\nmax_errors = 2\n").Line);
    }

    [Fact]
    public void A_missing_config_file_is_a_config_error_naming_the_file()
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile("/nonexistent/edgemail.toml", "/"));

        Assert.Contains("/nonexistent/edgemail.toml", e.Message);
    }
}
