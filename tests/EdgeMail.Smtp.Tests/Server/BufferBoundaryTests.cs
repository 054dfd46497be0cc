using System.Text;
using EdgeMail.Smtp.Server;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>The session's input buffer is a fixed 16 KiB; reads of a client that sends everything at once cut the
/// stream at multiples of it. A stuffed dot, a CR or the terminator placed on every offset around that cut must
/// come out the same as anywhere else.</summary>
public sealed class BufferBoundaryTests
{
    private const string Commands = "EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n";

    public static TheoryData<string, int> Placements()
    {
        var data = new TheoryData<string, int>();
        foreach (var special in new[] { "\r\n..dot\r\n", "\r\n.\r\n" })
            for (int shift = -6; shift <= 2; shift++)
                data.Add(special, shift);
        return data;
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public async Task Dot_stuffing_and_the_terminator_straddling_the_buffer_edge_are_decoded_exactly(string special, int shift)
    {
        using var smtp = new SmtpScript();
        int boundary = SmtpSession.InputBufferSize;
        int fillerLength = boundary + shift - Commands.Length - "Subject: edge\r\n\r\n".Length;
        string filler = new string('f', fillerLength);
        string body = "Subject: edge\r\n\r\n" + filler + special;
        string tail = special.EndsWith(".\r\n", StringComparison.Ordinal) && special.Contains("\r\n.\r\n", StringComparison.Ordinal)
            ? ""
            : "after\r\n.\r\n";
        string expectedMessage = ("Subject: edge\r\n\r\n" + filler + special + tail)
            .Replace("\r\n..", "\r\n.", StringComparison.Ordinal);
        expectedMessage = expectedMessage[..(expectedMessage.LastIndexOf("\r\n.\r\n", StringComparison.Ordinal) + 2)];

        var pipe = new DuplexPipe(Feed.Whole);
        var run = smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        await pipe.SendAsync(Commands + body + tail + "QUIT\r\n");
        pipe.CloseClient();
        string output = await pipe.ReadAllAsync();
        await run;
        Assert.Contains("250 2.0.0 Ok: queued as ", output);
        Assert.EndsWith("221 2.0.0 Bye\r\n", output);
        var entry = Assert.Single(smtp.Spool.List());
        string text = smtp.MessageText(entry.Id);
        Assert.Equal(expectedMessage, text[text.IndexOf("Subject: edge", StringComparison.Ordinal)..]);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_message_many_times_the_buffer_streams_through_unchanged(Feed feed)
    {
        using var smtp = new SmtpScript();
        var body = new StringBuilder("Subject: big\r\n\r\n");
        for (int i = 0; body.Length < (feed == Feed.Bytes ? 100_000 : 1_000_000); i++)
            body.Append(i % 7 == 0 ? ".stuffed line " : "line ").Append(i).Append("\r\n");
        string sent = body.ToString().Replace("\r\n.", "\r\n..", StringComparison.Ordinal);
        var pipe = new DuplexPipe(feed);
        var run = smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        await pipe.SendAsync(Commands + sent + ".\r\nQUIT\r\n");
        pipe.CloseClient();
        string output = await pipe.ReadAllAsync();
        await run;
        Assert.Contains("250 2.0.0 Ok: queued as ", output);
        var entry = Assert.Single(smtp.Spool.List());
        string text = smtp.MessageText(entry.Id);
        Assert.Equal(body.ToString(), text[text.IndexOf("Subject: big", StringComparison.Ordinal)..]);
    }
}
