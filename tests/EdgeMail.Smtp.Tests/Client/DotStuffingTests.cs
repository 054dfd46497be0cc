using System.Text;
using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>RFC 5321 §4.5.2 transparency, done while streaming, wherever the buffer boundaries fall.</summary>
public sealed class DotStuffingTests
{
    private static readonly byte[] Sample = ".first\r\nmid . dot\r\n..two\r\n.\r\nbare\n.lf\r\nend."u8.ToArray();
    private const string SampleStuffed = "..first\r\nmid . dot\r\n...two\r\n..\r\nbare\n..lf\r\nend.\r\n.\r\n";

    private static string StuffInChunks(byte[] input, params int[] cuts)
    {
        var stuffer = new DotStuffer();
        var output = new MemoryStream();
        int at = 0;
        foreach (int cut in cuts.Append(input.Length))
        {
            var piece = input.AsSpan(at, cut - at);
            var buffer = new byte[2 * piece.Length];
            output.Write(buffer, 0, stuffer.Stuff(piece, buffer));
            at = cut;
        }
        output.Write(stuffer.Terminator);
        return Encoding.ASCII.GetString(output.ToArray());
    }

    [Fact]
    public void A_line_starting_with_a_dot_gets_one_more_and_the_data_ends_CRLF_dot_CRLF()
    {
        Assert.Equal(SampleStuffed, StuffInChunks(Sample));
    }

    [Fact]
    public void Every_split_into_two_buffers_gives_the_same_bytes_including_a_dot_at_a_buffers_first_byte_and_a_split_CRLF()
    {
        for (int cut = 0; cut <= Sample.Length; cut++)
            Assert.Equal(SampleStuffed, StuffInChunks(Sample, cut));
    }

    [Fact]
    public void One_byte_buffers_give_the_same_bytes()
    {
        Assert.Equal(SampleStuffed, StuffInChunks(Sample, Enumerable.Range(1, Sample.Length - 1).ToArray()));
    }

    [Theory]
    [InlineData("", ".\r\n")]
    [InlineData("a\r\n", "a\r\n.\r\n")]
    [InlineData("a", "a\r\n.\r\n")]
    [InlineData("a\r", "a\r\n.\r\n")]
    [InlineData("a\n", "a\n\r\n.\r\n")]
    public void Data_that_does_not_end_in_CRLF_gets_one_before_the_final_dot(string message, string sent)
    {
        Assert.Equal(sent, StuffInChunks(Encoding.ASCII.GetBytes(message)));
    }

    [Theory, InlineData(1), InlineData(2), InlineData(3), InlineData(7), InlineData(16)]
    public async Task The_session_streams_a_spool_file_read_in_small_blocks_with_stuffing_across_them(int block)
    {
        var message = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 50).Select(i => i % 3 == 0 ? $".line {i}\r\n" : $"line {i}.\r\n")));
        var expected = Encoding.ASCII.GetString(message).Replace("\r\n.", "\r\n..");
        expected = (expected.StartsWith('.') ? "." : "") + expected + ".\r\n";
        var source = new ChunkedStream(message, block);

        var (_, server, _) = await ScriptedServer.RunAsync(Transcript.OneMessageWithoutExtensions, Feed.Whole, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream, ScriptedServer.Options(bufferSize: 16));
            return await s.SendAsync("a@lan", ["b@x.test"], source, message.Length, false, false, CancellationToken.None);
        });

        Assert.Equal(expected, Encoding.ASCII.GetString(server.Data[0]));
        Assert.True(source.Reads > message.Length / 16);   // really read block by block, never whole
    }

    [Fact]
    public async Task A_large_message_goes_through_the_fixed_buffer_in_many_writes_and_arrives_byte_for_byte()
    {
        var line = Encoding.ASCII.GetBytes(".0123456789abcdefghijklmnopqrstuvwxyz\r\n");
        var message = Enumerable.Repeat(line, 20_000).SelectMany(l => l).ToArray();   // ~780 KB
        var (_, server, client) = await ScriptedServer.RunAsync(Transcript.OneMessageWithoutExtensions, Feed.Whole, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            return await s.SendAsync("a@lan", ["b@x.test"], new MemoryStream(message), message.Length, false, false, CancellationToken.None);
        });

        var received = server.Data[0];
        Assert.Equal(message.Length + 20_000 + 3, received.Length);
        Assert.All(client.Writes, w => Assert.True(w.Length <= 3 * 8192));
    }
}
