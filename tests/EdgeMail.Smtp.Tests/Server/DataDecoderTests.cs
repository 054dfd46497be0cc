using System.Text;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Smtp.Tests.Server;

public class DataDecoderTests
{
    /// <summary>Feeds <paramref name="input"/> in reads cut at the given sizes; returns the message, the bytes
    /// left after the terminator (null when it never ended) and whether a bare line ending was seen.</summary>
    private static (string Message, string? After, bool Bare) Decode(string input, params int[] cuts)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        var message = new List<byte>();
        var decoder = new DataDecoder();
        int pos = 0;
        int cut = 0;
        while (pos < bytes.Length)
        {
            int size = cuts.Length == 0 ? bytes.Length - pos : Math.Min(cuts[cut++ % cuts.Length], bytes.Length - pos);
            var chunk = bytes.AsSpan(pos, size).ToArray();
            var result = decoder.Decode(chunk);
            if (result.PrefixCr)
                message.Add((byte)'\r');
            message.AddRange(chunk.AsSpan(0, result.Written).ToArray());
            pos += result.Consumed;
            if (result.Ended)
                return (Encoding.ASCII.GetString(message.ToArray()), Encoding.ASCII.GetString(bytes, pos, bytes.Length - pos), decoder.SawBareLineEnding);
            Assert.Equal(size, result.Consumed);
        }
        return (Encoding.ASCII.GetString(message.ToArray()), null, decoder.SawBareLineEnding);
    }

    public static TheoryData<string, string, string, bool> Cases() => new()
    {
        { "Subject: a\r\n\r\nbody\r\n.\r\nQUIT\r\n", "Subject: a\r\n\r\nbody\r\n", "QUIT\r\n", false },
        { ".\r\n", "", "", false },
        { "..leading dot\r\n.\r\n", ".leading dot\r\n", "", false },
        { "a\r\n...\r\n.\r\n", "a\r\n..\r\n", "", false },
        { ".x\r\n.\r\n", "x\r\n", "", false },
        { "a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n", "", false },
        { "a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n", "a\n.\nMAIL FROM:<x@y.example>\r\n", "", true },
        { "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", "", true },
        { "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", "", true },
        { "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", "", true },
        { "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", "", true },
        { "a\r\r\n.\r\n", "a\r\r\n", "", true },
        { "bare\nlf\r\n.\r\n", "bare\nlf\r\n", "", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Data_ends_only_at_crlf_dot_crlf_and_is_dot_unstuffed_whatever_the_read_sizes(string input, string message, string rest, bool bare)
    {
        foreach (int[] cuts in new[] { Array.Empty<int>(), [1], [2], [3], [5, 1], [7] })
        {
            var result = Decode(input, cuts);
            Assert.Equal(message, result.Message);
            Assert.Equal(rest, result.After);
            Assert.Equal(bare, result.Bare);
        }
    }

    [Fact]
    public void The_terminator_split_after_every_byte_is_found()
    {
        const string input = "line one\r\n.stuffed\r\n.\r\nRSET\r\n";
        for (int split = 1; split < input.Length; split++)
        {
            var result = Decode(input, split, input.Length);
            Assert.Equal("line one\r\nstuffed\r\n", result.Message);
            Assert.Equal("RSET\r\n", result.After);
            Assert.False(result.Bare);
        }
    }

    [Theory]
    [InlineData("a\n.\n")]
    [InlineData("a\r.\r")]
    [InlineData("a\r\n.\n")]
    [InlineData("a\n.\r\n")]
    [InlineData("a\r.\r\n")]
    public void Smuggling_terminators_never_end_the_message(string input)
    {
        Assert.Null(Decode(input).After);
        Assert.Null(Decode(input, 1).After);
    }

    [Fact]
    public void A_dot_cr_held_over_a_read_boundary_and_then_not_followed_by_lf_comes_back_as_a_cr()
    {
        // "\r\n.\r" ends the first read; "x" starts the second: the CR must reappear in front of x.
        var result = Decode("a\r\n.\rx\r\n.\r\n", 5, 100);
        Assert.Equal("a\r\n\rx\r\n", result.Message);
        Assert.True(result.Bare);
    }
}
