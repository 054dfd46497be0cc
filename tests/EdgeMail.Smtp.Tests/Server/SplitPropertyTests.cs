using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>
/// Property (issue 4): any split of a valid transcript into reads gives the same replies and the same queued bytes.
/// The transcript mixes pipelined commands, DATA with dot-stuffing and lines that look like its end, and BDAT; each
/// seed cuts it at different places (1 to 40 bytes per read), on top of the whole/line/byte feeds the other tests use.
/// </summary>
public sealed class SplitPropertyTests
{
    private const string Transcript = Dialogue.Hello + """

        C: MAIL FROM:<a@client.test> BODY=8BITMIME
        S: 250 2.1.0 Sender ok
        C: RCPT TO:<b@example.com>
        S: 250 2.1.5 Recipient ok
        C: RCPT TO:<c@example.com>
        S: 250 2.1.5 Recipient ok
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: From: a@client.test
        C: Subject: split
        C:
        C: ..a line that starts with a dot
        C: ...
        C: .not the end
        C: caf\u00e9 8-bit
        C: .
        S: 250 2.0.0 Ok: queued as *
        C: MAIL FROM:<a@client.test>
        S: 250 2.1.0 Sender ok
        C: RCPT TO:<b@example.com>
        S: 250 2.1.5 Recipient ok
        R: BDAT 23\r\nFrom: a@client.test\r\n\r\n
        S: 250 2.0.0 23 octets received
        R: BDAT 12 LAST\r\n.\r\nQUIT\r\n.\r\n
        S: 250 2.0.0 Ok: queued as *
        C: QUIT
        S: 221 2.0.0 Bye
        """;

    private static readonly string[] Expected =
    [
        "From: a@client.test\r\nSubject: split\r\n\r\n.a line that starts with a dot\r\n..\r\nnot the end\r\ncaf\u00e9 8-bit\r\n",
        "From: a@client.test\r\n\r\n.\r\nQUIT\r\n.\r\n",
    ];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Any_split_gives_the_same_replies_and_the_same_queued_bytes(int seed)
    {
        using var smtp = new SmtpScript { CutSeed = seed };
        var lines = await smtp.RunAsync(Transcript.Replace("\\u00e9", "\u00e9", StringComparison.Ordinal), Feed.Random);
        var ids = lines.Where(l => l.StartsWith("250 2.0.0 Ok: queued as ", StringComparison.Ordinal)).Select(l => l[24..]).ToArray();
        Assert.Equal(2, ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            // Our Received: header comes first (it carries the queue ID and time); the client's bytes follow it.
            string text = smtp.MessageText(ids[i]);
            Assert.Equal(Expected[i], text[text.IndexOf("From: a@client.test", StringComparison.Ordinal)..]);
        }
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 1; seed <= 60; seed++)
            data.Add(seed);
        return data;
    }
}
