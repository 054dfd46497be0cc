using EdgeMail.Smtp.Tests.Support;
using EdgeMail.Spool;
using EdgeMail.Spool.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>Acknowledge only what is durable: when any step of the spool's write/commit path fails, the client is
/// told 451 4.3.0 (or 452 4.3.1 when the disk is full), nothing is queued, and the session goes on.</summary>
public sealed class SpoolFailureTests
{
    private const string UpToData = Dialogue.Hello + "\n" + Dialogue.MailAndRcpt;

    private const string AfterwardsStillUsable = """
        C: NOOP
        S: 250 2.0.0 Ok
        C: QUIT
        S: 221 2.0.0 Bye
        """;

    public static TheoryData<SpoolStep, int, FaultKind, string, Feed> CommitSteps()
    {
        var data = new TheoryData<SpoolStep, int, FaultKind, string, Feed>();
        foreach (var feed in new[] { Feed.Whole, Feed.Lines, Feed.Bytes, Feed.Random })
        {
            // Write #1 is the spool's own header (at Create); #2 our Received: header; then the message bytes.
            data.Add(SpoolStep.Write, 2, FaultKind.IoError, "451 4.3.0 Local error in processing, try again later", feed);
            data.Add(SpoolStep.Write, 3, FaultKind.IoError, "451 4.3.0 Local error in processing, try again later", feed);
            data.Add(SpoolStep.Write, 3, FaultKind.NoSpace, "452 4.3.1 Insufficient system storage", feed);
            data.Add(SpoolStep.FlushFile, 1, FaultKind.IoError, "451 4.3.0 Local error in processing, try again later", feed);
            data.Add(SpoolStep.Rename, 1, FaultKind.IoError, "451 4.3.0 Local error in processing, try again later", feed);
            data.Add(SpoolStep.FlushDirectory, 1, FaultKind.IoError, "451 4.3.0 Local error in processing, try again later", feed);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CommitSteps))]
    public async Task A_failing_write_or_commit_step_answers_4xx_after_the_data_and_queues_nothing(SpoolStep step, int nth, FaultKind kind, string reply, Feed feed)
    {
        var fs = new FaultInjectingFileSystem();
        using var smtp = new SmtpScript(fileSystem: fs);
        fs.FailOn(step, nth, kind);
        await smtp.RunAsync(UpToData + $"""

            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: test
            C:
            C: body
            C: .
            S: {reply}
            """ + "\n" + AfterwardsStillUsable, feed);
        Assert.Empty(smtp.Spool.List());
        Assert.Contains(smtp.Log.Lines, l => l.StartsWith("rejected message from", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(FaultKind.IoError, "451 4.3.0 Local error in processing, try again later")]
    [InlineData(FaultKind.NoSpace, "452 4.3.1 Insufficient system storage")]
    public async Task When_the_spool_cannot_create_the_message_data_is_refused_before_354(FaultKind kind, string reply)
    {
        var fs = new FaultInjectingFileSystem();
        using var smtp = new SmtpScript(fileSystem: fs);
        fs.FailOn(SpoolStep.Create, 1, kind);
        await smtp.RunAsync(UpToData + $"""

            C: DATA
            S: {reply}
            """ + "\n" + AfterwardsStillUsable, Feed.Lines);
        Assert.Empty(smtp.Spool.List());
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_declared_size_that_does_not_fit_the_spool_gets_452_at_mail(Feed feed)
    {
        string folder = Path.Combine(Path.GetTempPath(), "edgemail-smtpd-" + Guid.NewGuid().ToString("N"));
        using var smtp = new SmtpScript(spoolOptions: new SpoolOptions { Directory = folder, MaxSpoolBytes = 10_000, MinFreeBytes = 0 });
        await smtp.RunAsync("""
            S: 220 mx.test ESMTP EdgeMail
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@example.com> SIZE=50000
            S: 452 4.3.1 Insufficient system storage
            C: MAIL FROM:<a@example.com> SIZE=500
            S: 250 2.1.0 Sender ok
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Directory.Delete(folder, recursive: true);
    }
}
