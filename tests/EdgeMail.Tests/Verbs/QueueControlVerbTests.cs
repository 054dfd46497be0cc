using EdgeMail.Spool;

namespace EdgeMail.Tests.Verbs;

/// <summary>`edgemail queue flush|delete|hold|release` without a daemon: they act on the spool directly.</summary>
public sealed class QueueControlVerbTests : VerbHarness
{
    [Fact]
    public async Task Hold_then_release_changes_the_spool_when_no_daemon_runs()
    {
        string id = await QueueAsync();

        Assert.Equal(0, Run("queue", "hold", id, "--spool", SpoolDir));
        Assert.Contains($"{id}: held", Out.ToString());
        Assert.True(Spooled().Single().Held);

        Assert.Equal(0, Run("queue", "release", id, "--spool", SpoolDir));
        Assert.Contains($"{id}: released", Out.ToString());
        Assert.False(Spooled().Single().Held);
    }

    [Fact]
    public async Task Delete_removes_the_message_when_no_daemon_runs()
    {
        string id = await QueueAsync();
        string other = await QueueAsync("other@lan");

        Assert.Equal(0, Run("queue", "delete", id, "--spool", SpoolDir));

        Assert.Equal([other], Spooled().Select(e => e.Id));
    }

    [Fact]
    public async Task Held_messages_show_as_held_in_the_listing()
    {
        string id = await QueueAsync();
        Run("queue", "hold", id, "--spool", SpoolDir);
        Out.GetStringBuilder().Clear();

        Assert.Equal(0, Run("queue", "--spool", SpoolDir));

        Assert.Contains("  held", Out.ToString());
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("hold")]
    [InlineData("release")]
    public async Task A_malformed_queue_id_is_a_usage_error_64_and_touches_nothing(string verb)
    {
        await QueueAsync();

        Assert.Equal(64, Run("queue", verb, "../queue/x", "--spool", SpoolDir));

        Assert.Contains("invalid queue ID", Err.ToString());
        Assert.Single(Spooled());
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("hold")]
    [InlineData("release")]
    public async Task A_queue_id_that_is_not_queued_is_EX_NOUSER_67(string verb)
    {
        await QueueAsync();

        Assert.Equal(67, Run("queue", verb, "NOSUCHID", "--spool", SpoolDir));

        Assert.Contains("NOSUCHID: no such message", Err.ToString());
    }

    [Fact]
    public async Task Releasing_a_message_that_is_not_held_is_67()
    {
        string id = await QueueAsync();

        Assert.Equal(67, Run("queue", "release", id, "--spool", SpoolDir));
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("hold")]
    [InlineData("release")]
    public void A_missing_queue_id_is_a_usage_error_64(string verb)
    {
        Assert.Equal(64, Run("queue", verb, "--spool", SpoolDir));
    }

    [Fact]
    public void Flush_without_a_daemon_succeeds_and_says_the_queue_waits_for_it()
    {
        Directory.CreateDirectory(SpoolDir);

        Assert.Equal(0, Run("queue", "flush", "--spool", SpoolDir));

        Assert.Contains("no daemon running", Out.ToString());
    }

    [Theory]
    [InlineData("flush")]
    [InlineData("hold", "ABC")]
    public void A_spool_folder_that_does_not_exist_is_66_and_is_not_created(params string[] verb)
    {
        string missing = Path.Combine(Dir, "typo");

        Assert.Equal(66, Run(["queue", .. verb, "--spool", missing]));

        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public async Task The_json_listing_still_works_beside_the_subcommands()
    {
        string id = await QueueAsync();

        Assert.Equal(0, Run("queue", "--json", "--spool", SpoolDir));

        Assert.Contains($"\"id\": \"{id}\"", Out.ToString());
    }

    [Theory]
    [InlineData("flush")]
    [InlineData("delete")]
    [InlineData("hold")]
    [InlineData("release")]
    public void Every_queue_subcommand_has_help(string verb)
    {
        Assert.Equal(0, Run("queue", verb, "--help"));
        Assert.Contains("--spool", Out.ToString());
    }
}
