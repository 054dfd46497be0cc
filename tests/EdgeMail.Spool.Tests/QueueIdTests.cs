using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

public class QueueIdTests
{
    [Fact]
    public void A_new_id_is_16_upper_case_base32_characters()
    {
        string id = QueueId.New();
        Assert.Equal(16, id.Length);
        Assert.Matches("^[0-9A-HJKMNP-TV-Z]{16}$", id);
        Assert.True(QueueId.IsValid(id));
    }

    [Fact]
    public void Ids_are_unique_and_sort_in_the_order_they_were_made()
    {
        var ids = new List<string>();
        for (int i = 0; i < 10_000; i++)
            ids.Add(QueueId.New());
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Ids_made_on_many_threads_at_once_are_unique()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 20_000, _ => ids.Add(QueueId.New()));
        Assert.Equal(20_000, ids.Distinct().Count());
    }

    [Fact]
    public void An_id_carries_its_creation_time()
    {
        DateTimeOffset before = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        DateTimeOffset stamp = QueueId.TimestampOf(QueueId.New());
        Assert.InRange(stamp, before, DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("../../etc/passwd")]
    [InlineData("0000000000000000/")]
    [InlineData("/000000000000000")]
    [InlineData("00000000000000.0")]
    [InlineData("000000000000000")]    // 15
    [InlineData("00000000000000000")]  // 17
    [InlineData("01hzx3k4m5n6p7q8")]   // lower case
    [InlineData("01HZX3K4M5N6P7QI")]   // I is not Crockford
    [InlineData("01HZX3K4M5N6P7QL")]   // L
    [InlineData("01HZX3K4M5N6P7QO")]   // O
    [InlineData("01HZX3K4M5N6P7QU")]   // U
    [InlineData("01HZX3K4M5N6P7Q\0")]
    [InlineData("01HZX3K4M5N6P7Q ")]
    [InlineData("01HZX3K4M5N6P7Qé")]
    [InlineData("０1HZX3K4M5N6P7Q8")]  // full-width digit
    public void Hostile_or_malformed_ids_are_rejected(string id)
    {
        Assert.False(QueueId.IsValid(id));
    }

    [Fact]
    public void A_very_long_string_is_rejected()
    {
        Assert.False(QueueId.IsValid(new string('A', 100_000)));
    }

    [Fact]
    public void After_advancing_past_an_id_from_the_future_new_ids_sort_after_it()
    {
        // A Raspberry Pi without RTC may boot with a clock behind the one that named queued files.
        string future = QueueId.Compose(DateTimeOffset.UtcNow.AddMilliseconds(200), 12345);
        QueueId.AdvancePast(future);
        Assert.True(string.CompareOrdinal(QueueId.New(), future) > 0);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("01hzx3k4m5n6p7q8")]
    [InlineData("queue/01HZX3K4M5N6P7Q8")]
    public async Task Every_spool_api_treats_a_hostile_id_as_unknown_and_touches_no_path(string id)
    {
        using var dir = new TempSpoolDirectory();
        var fs = new FaultInjectingFileSystem();
        using MessageSpool spool = MessageSpool.Open(dir.Options(), null, fs);
        await Mail.QueueAsync(spool, Mail.Bytes("Subject: x\r\n\r\nbody\r\n"));
        int opens = fs.Calls(SpoolStep.OpenRead), creates = fs.Calls(SpoolStep.OpenOrCreate),
            renames = fs.Calls(SpoolStep.Rename), deletes = fs.Calls(SpoolStep.Delete);

        Assert.Null(spool.Get(id));
        Assert.Throws<KeyNotFoundException>(() => spool.OpenMessage(id));
        Assert.Throws<KeyNotFoundException>(() => spool.RecordAttempt(id, new AttemptRecord { When = DateTimeOffset.UtcNow, Recipients = [] }));
        Assert.False(spool.Delete(id));
        Assert.False(spool.Hold(id));
        Assert.False(spool.Release(id));
        spool.Complete(id);

        Assert.Equal(opens, fs.Calls(SpoolStep.OpenRead));
        Assert.Equal(creates, fs.Calls(SpoolStep.OpenOrCreate));
        Assert.Equal(renames, fs.Calls(SpoolStep.Rename));
        Assert.Equal(deletes, fs.Calls(SpoolStep.Delete));
        Assert.Single(spool.List());
    }
}
