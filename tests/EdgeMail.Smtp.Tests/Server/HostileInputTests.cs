using System.Text;
using System.Text.RegularExpressions;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>Hostile input everywhere: seeded streams of command fragments, stray CR/LF/dots, NULs, 8-bit bytes and
/// BDAT sizes never crash a session, and everything it says is a well-formed reply line.</summary>
public sealed partial class HostileInputTests
{
    private static readonly string[] Pieces =
    [
        "HELO x.test\r\n", "EHLO y.test\r\n", "MAIL FROM:<a@example.com>\r\n", "MAIL FROM:<> SIZE=10\r\n", "RCPT TO:<b@example.com>\r\n",
        "DATA\r\n", "BDAT 5\r\n", "BDAT 3 LAST\r\n", "RSET\r\n", "NOOP\r\n", "HELP\r\n", "VRFY x\r\n", "\r\n.\r\n", "\n.\n", "\r.\r",
        ".", "..", "\r", "\n", "\0", "\u00e9", "\u00ff", "MAIL", " FROM:", "<", ">", "@", "x", "BDAT", " 99999999999999999999",
        "TURN\r\n", "STARTTLS\r\n", "AUTH PLAIN\r\n", new string('z', 600), "\r\n",
    ];

    [GeneratedRegex(@"^[2-5][0-9][0-9][ -][\x20-\x7E]*$")]
    private static partial Regex ReplyLine();

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Random_hostile_streams_get_only_well_formed_replies(int seed)
    {
        var random = new Random(seed);
        var input = new StringBuilder();
        for (int i = 0; i < 200; i++)
            input.Append(Pieces[random.Next(Pieces.Length)]);
        using var smtp = new SmtpScript(o => o.MaxErrors = 1000);
        var pipe = new DuplexPipe((Feed)(seed % 4));
        var run = smtp.NewSession(pipe.Server).RunAsync(CancellationToken.None);
        await pipe.SendAsync(input.ToString());
        pipe.CloseClient();
        string output = await pipe.ReadAllAsync();
        await run;
        Assert.EndsWith("\r\n", output);
        foreach (var line in output[..^2].Split("\r\n"))
        {
            Assert.Matches(ReplyLine(), line);
            Assert.True(line.Length <= 510, line);
        }
        Assert.DoesNotContain(smtp.Log.Lines, l => l.Contains("internal error", StringComparison.Ordinal) || l.Contains(" failed: ", StringComparison.Ordinal));
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 1; seed <= 40; seed++)
            data.Add(seed);
        return data;
    }
}
