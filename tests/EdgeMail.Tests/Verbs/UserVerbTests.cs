namespace EdgeMail.Tests.Verbs;

/// <summary>`edgemail user add|del|list --users FILE`: the accounts SMTP AUTH accepts.</summary>
public sealed class UserVerbTests : VerbHarness
{
    private string UsersFile => Path.Combine(Dir, "users");

    [Fact]
    public void Add_reads_the_password_from_stdin_and_list_shows_the_user()
    {
        Assert.Equal(0, RunWithInput("s3cret-pw\n", "user", "add", "bob", "--users", UsersFile));
        Assert.Equal(0, Run("user", "list", "--users", UsersFile));

        Assert.Contains("bob", Out.ToString().Split('\n').Select(l => l.Trim()));
        Assert.DoesNotContain("s3cret-pw", File.ReadAllText(UsersFile));
    }

    [Fact]
    public void Adding_an_existing_user_is_65_unless_replace_is_given()
    {
        RunWithInput("first\n", "user", "add", "bob", "--users", UsersFile);

        Assert.Equal(65, RunWithInput("second\n", "user", "add", "bob", "--users", UsersFile));
        Assert.Contains("--replace", Err.ToString());
        Assert.Equal(0, RunWithInput("second\n", "user", "add", "bob", "--users", UsersFile, "--replace"));
    }

    [Fact]
    public void Del_removes_the_user_and_an_unknown_user_is_67()
    {
        RunWithInput("pw\n", "user", "add", "bob", "--users", UsersFile);

        Assert.Equal(0, Run("user", "del", "bob", "--users", UsersFile));
        Assert.Equal(67, Run("user", "del", "bob", "--users", UsersFile));
        Out.GetStringBuilder().Clear();
        Run("user", "list", "--users", UsersFile);
        Assert.Equal("", Out.ToString());
    }

    [Fact]
    public void An_empty_password_is_65_and_adds_nobody()
    {
        Assert.Equal(65, RunWithInput("", "user", "add", "bob", "--users", UsersFile));
        Assert.False(File.Exists(UsersFile) && File.ReadAllText(UsersFile).Contains("bob"));
    }

    [Fact]
    public void An_invalid_user_name_is_a_usage_error_64()
    {
        Assert.Equal(64, RunWithInput("pw\n", "user", "add", "bob smith", "--users", UsersFile));
    }

    [Theory]
    [InlineData("add", "bob")]
    [InlineData("del", "bob")]
    [InlineData("list")]
    public void Without_a_users_file_the_verb_is_a_usage_error_64(params string[] args)
    {
        Assert.Equal(64, RunWithInput("pw\n", ["user", .. args]));
        Assert.Contains("--users", Err.ToString());
    }

    [Fact]
    public void Without_users_the_file_is_the_configs_auth_users_file_the_daemon_reads()
    {
        string config = Path.Combine(Dir, "edgemail.toml");
        File.WriteAllText(config, $"[auth]\nusers_file = \"{UsersFile}\"\n");

        Assert.Equal(0, RunWithInput("pw\n", "user", "add", "carol", "--config", config));
        Assert.Equal(0, Run("user", "list", "--users", UsersFile));

        Assert.Equal("carol", Out.ToString().Split('\n')[^2].Trim());
    }

    [Fact]
    public void The_password_never_appears_on_the_command_line_help()
    {
        Run("user", "add", "--help");
        Assert.DoesNotContain("--password", Out.ToString());
    }
}
