using EdgeMail.Smtp.Tests.Support;
using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>RFC 3030 CHUNKING: BDAT chunks are length-delimited, stored byte for byte (no dot-stuffing, no
/// terminator), and their bytes are always consumed — even when the command is refused — so chunk content is never
/// read as commands.</summary>
public sealed class ChunkingTests : IDisposable
{
    private readonly SmtpScript _smtp = new();

    public void Dispose() => _smtp.Dispose();

    private static string Bdat(string chunk, bool last = false)
        => $"R: BDAT {System.Text.Encoding.UTF8.GetByteCount(SmtpScript.Unescape(chunk))}{(last ? " LAST" : "")}\\r\\n{chunk}";

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task Chunks_are_acknowledged_one_by_one_and_stored_byte_for_byte(Feed feed)
    {
        var lines = await _smtp.RunAsync(Dialogue.HeloTransaction + $"""

            {Bdat(@"Subject: chunks\r\n\r\n")}
            S: 250 2.0.0 19 octets received
            {Bdat(@"..not stuffed\r\n.\r\nMAIL FROM:<evil@example.com>\r\n\nbare\n", last: true)}
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        string text = _smtp.MessageText(SmtpScript.QueueIdFrom(lines));
        Assert.EndsWith("\r\nSubject: chunks\r\n\r\n..not stuffed\r\n.\r\nMAIL FROM:<evil@example.com>\r\n\nbare\n", text);
        Assert.Single(_smtp.Spool.List());
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task An_empty_last_chunk_ends_the_message(Feed feed)
    {
        await _smtp.RunAsync(Dialogue.HeloTransaction + $"""

            {Bdat(@"Subject: x\r\n\r\nbody\r\n")}
            S: 250 2.0.0 20 octets received
            R: BDAT 0 LAST\r\n
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Single(_smtp.Spool.List());
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_refused_bdat_still_swallows_its_chunk(Feed feed)
    {
        await _smtp.RunAsync($"""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            {Bdat(@"QUIT\r\n", last: true)}
            S: 503 5.5.1 Need MAIL command
            C: NOOP
            S: 250 2.0.0 Ok
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Empty(_smtp.Spool.List());
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Data_and_rcpt_may_not_follow_bdat(Feed feed) => _smtp.RunAsync(Dialogue.HeloTransaction + $"""

        {Bdat("abc")}
        S: 250 2.0.0 3 octets received
        C: DATA
        S: 503 5.5.1 Only BDAT may follow BDAT
        C: RCPT TO:<c@example.com>
        S: 503 5.5.1 Only BDAT may follow BDAT
        C: RSET
        S: 250 2.0.0 Ok
        C: QUIT
        S: 221 2.0.0 Bye
        """, feed);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_chunk_past_the_size_limit_gets_552_and_ends_the_transaction(Feed feed)
    {
        _smtp.Options.MaxMessageSize = 10;
        await _smtp.RunAsync(Dialogue.HeloTransaction + $"""

            {Bdat("0123456789")}
            S: 250 2.0.0 10 octets received
            {Bdat("X")}
            S: 552 5.3.4 Message size exceeds fixed limit
            {Bdat(@"QUIT\r\n", last: true)}
            S: 503 5.5.1 Need MAIL command
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Empty(_smtp.Spool.List());
    }

    [Theory]
    [InlineData("BDAT")]
    [InlineData("BDAT x")]
    [InlineData("BDAT -1")]
    [InlineData("BDAT 10 FIRST")]
    public Task A_bdat_without_a_usable_size_closes_the_session_since_the_stream_cannot_be_followed(string command) => _smtp.RunAsync(Dialogue.HeloTransaction + $"""

        C: {command}
        S: 501 5.5.4 Syntax: BDAT <size> [LAST]; closing connection
        C: QUIT
        """, Feed.Lines);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task When_the_spool_fails_the_chunks_get_451_and_nothing_is_queued(Feed feed)
    {
        var fs = new FaultInjectingFileSystem();
        using var smtp = new SmtpScript(fileSystem: fs);
        fs.FailOn(SpoolStep.Rename);
        await smtp.RunAsync(Dialogue.HeloTransaction + $"""

            {Bdat(@"Subject: x\r\n\r\n")}
            S: 250 2.0.0 14 octets received
            {Bdat(@"body\r\n", last: true)}
            S: 451 4.3.0 Local error in processing, try again later
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Empty(smtp.Spool.List());
    }
}
