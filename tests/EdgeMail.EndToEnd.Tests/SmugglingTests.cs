using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

/// <summary>
/// SMTP smuggling (CVE-2023-51766 and friends): DATA ends only at CRLF.CRLF (RFC 5321 §4.1.1.4). A
/// bare-LF or bare-CR variant must neither end the message nor start a smuggled second transaction; the
/// whole message is refused with 554 5.6.0 at the real end and nothing is queued.
/// </summary>
public sealed class SmugglingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("\n.\n", "LF.LF")]
    [InlineData("\r\n.\n", "CRLF.LF")]
    [InlineData("\n.\r\n", "LF.CRLF")]
    [InlineData("\r.\r", "CR.CR")]
    public async Task A_fake_end_of_data_does_not_end_the_message_and_the_message_is_refused_with_554_5_6_0(string fakeEnd, string name)
    {
        using var dir = new TempDirectory("smuggle");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        await using var client = await RawSmtpClient.ConnectAsync(server.Endpoint);
        Assert.Equal(220, (await client.ReadReplyAsync()).Code);
        Assert.Equal(250, (await client.CommandAsync("EHLO smuggler.test")).Code);
        Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<friend@lan.test>")).Code);
        Assert.Equal(250, (await client.CommandAsync("RCPT TO:<ops@example.test>")).Code);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        // One write: the smuggled transaction rides in the same segment as the first message.
        await client.SendAsync(
            "From: <friend@lan.test>\r\nSubject: harmless\r\n\r\nhello" + fakeEnd +
            "MAIL FROM:<ceo@lan.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n" +
            "From: <ceo@lan.test>\r\nSubject: wire the money\r\n\r\nnow\r\n.\r\n");

        var reply = await client.ReadReplyAsync();
        Assert.True(reply.Code == 554 && reply.Text.StartsWith("554 5.6.0", StringComparison.Ordinal),
                    $"{name}: expected 554 5.6.0 at the real end of DATA, got: {reply}\n{server.Diagnostics()}");

        // No replies to smuggled commands may follow: the next thing we hear answers our QUIT, or the server hung up.
        var closed = false;
        try
        {
            var next = await client.CommandAsync("QUIT");
            Assert.True(next.Code == 221, $"{name}: after the 554 the server answered something other than our QUIT: {next}");
        }
        catch (IOException)
        {
            closed = true;
        }
        Assert.True(closed || await client.IsClosedAsync(), $"{name}: the connection stayed open after 221");

        var queue = await EdgeMailCli.QueueAsync(binary, server.SpoolDirectory);
        Assert.True(queue.Count == 0, $"{name}: nothing may be queued, yet the queue lists " +
                                      string.Join(", ", queue.Select(m => $"{m.Id} from <{m.Sender}>")));
    }
}
