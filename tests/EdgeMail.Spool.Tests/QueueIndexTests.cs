using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Spool.Tests;

/// <summary>The in-memory index of queued messages: small per message (it holds thousands while an upstream is
/// away) and countable without copying it.</summary>
public sealed class QueueIndexTests : IDisposable
{
    private readonly TempSpoolDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_000);

    [Fact]
    public async Task Messages_from_the_same_appliance_share_one_copy_of_each_envelope_string_also_after_a_restart()
    {
        using (MessageSpool spool = MessageSpool.Open(_dir.Options()))
        {
            await Mail.QueueAsync(spool, Mail.Bytes("1"), Mail.Envelope("admin@example.org"));
            await Mail.QueueAsync(spool, Mail.Bytes("2"), Mail.Envelope("admin@example.org"));
            AssertShared(spool.List());
        }
        using MessageSpool reopened = MessageSpool.Open(_dir.Options());
        AssertShared(reopened.List());

        static void AssertShared(IReadOnlyList<QueueEntry> entries)
        {
            Assert.Equal(2, entries.Count);
            Envelope a = entries[0].Envelope, b = entries[1].Envelope;
            Assert.Same(a.Sender, b.Sender);
            Assert.Same(a.Recipients, b.Recipients);
            Assert.Same(a.ClientAddress, b.ClientAddress);
            Assert.Same(a.Helo, b.Helo);
            Assert.Equal("admin@example.org", Assert.Single(a.Recipients));
        }
    }

    [Fact]
    public async Task A_shared_recipient_list_is_never_changed_by_an_attempt_on_one_message()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string first = await Mail.QueueAsync(spool, Mail.Bytes("1"), Mail.Envelope("b@y.example"));
        string second = await Mail.QueueAsync(spool, Mail.Bytes("2"), Mail.Envelope("b@y.example"));
        spool.RecordAttempt(first, new AttemptRecord
        {
            When = T0,
            Recipients = [new RecipientState("b@y.example", RecipientStatus.Failed, "550 5.1.1 no such user")],
            Error = "550 5.1.1 no such user",
        });
        Assert.Equal(RecipientStatus.Failed, Assert.Single(spool.Get(first)!.Recipients).Status);
        Assert.Equal(new RecipientState("b@y.example", RecipientStatus.Pending, null), Assert.Single(spool.Get(second)!.Recipients));
    }

    [Fact]
    public async Task Count_tells_queued_held_deferred_due_failing_and_how_many_have_left()
    {
        using MessageSpool spool = MessageSpool.Open(_dir.Options());
        string fresh = await Mail.QueueAsync(spool, Mail.Bytes("fresh"), Mail.Envelope("b@y.example"));
        string waiting = await Mail.QueueAsync(spool, Mail.Bytes("waiting"), Mail.Envelope("b@y.example"));
        string held = await Mail.QueueAsync(spool, Mail.Bytes("held"), Mail.Envelope("b@y.example"));
        string gone = await Mail.QueueAsync(spool, Mail.Bytes("gone"), Mail.Envelope("b@y.example"));
        spool.RecordAttempt(waiting, new AttemptRecord
        {
            When = T0,
            Recipients = [new RecipientState("b@y.example", RecipientStatus.Pending, "421 4.3.2 try later")],
            Error = "421 4.3.2 try later",
            NextAttempt = T0.AddMinutes(5),
        });
        Assert.True(spool.Hold(held));
        spool.Complete(gone);

        Assert.Equal(new QueueCounts(Total: 3, Held: 1, Deferred: 1, Due: 1, Failing: 1, Removed: 1), spool.Count(T0));
        // Once the retry time has come the deferred message is due, no longer waiting on a failure.
        Assert.Equal(new QueueCounts(Total: 3, Held: 1, Deferred: 1, Due: 2, Failing: 0, Removed: 1), spool.Count(T0.AddMinutes(5)));
        Assert.True(spool.Delete(fresh));
        Assert.Equal(2, spool.Count(T0).Removed);
    }
}
