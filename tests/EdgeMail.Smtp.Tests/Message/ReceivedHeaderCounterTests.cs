using System.Text;
using EdgeMail.Smtp.Message;

namespace EdgeMail.Smtp.Tests.Message;

public class ReceivedHeaderCounterTests
{
    private const string TwoHops =
        "Received: from a (a [192.0.2.1])\r\n\tby b (EdgeMail) with ESMTP id X; Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
        "received : from c\r\n" +
        "Subject: hi\r\n" +
        "\r\n" +
        "Received: from a quoted bounce body line\r\n";

    [Fact]
    public void Counts_each_received_field_of_the_header_section_only()
        => Assert.Equal(2, ReceivedHeaderCounter.CountIn(Encoding.ASCII.GetBytes(TwoHops)));

    [Theory]
    [InlineData("X-Received: from a\r\n\r\n", 0)]
    [InlineData("Received-SPF: pass\r\n\r\n", 0)]
    [InlineData("Subject: x\r\n Received: folded continuation\r\n\r\n", 0)]
    [InlineData("RECEIVED: from a\r\n\r\n", 1)]
    [InlineData("Received\t: from a\r\n\r\n", 1)]
    [InlineData("Received: a\nReceived: b\n\nReceived: body\n", 2)] // bare LF from a local submission
    [InlineData("Receive: a\r\n\r\n", 0)]
    [InlineData("\r\nReceived: after the empty line\r\n", 0)]
    public void Counts_field_names_not_lookalikes(string message, int expected)
        => Assert.Equal(expected, ReceivedHeaderCounter.CountIn(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void A_message_cut_at_every_byte_counts_the_same_as_one_read()
    {
        var bytes = Encoding.ASCII.GetBytes(TwoHops);
        var counter = new ReceivedHeaderCounter();
        foreach (byte b in bytes)
            counter.Feed([b]);
        Assert.Equal(2, counter.Count);
        Assert.True(counter.HeaderEnded);
    }

    [Fact]
    public void A_loop_of_many_hops_is_counted_in_full()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < ReceivedHeaderCounter.DefaultLimit + 1; i++)
            sb.Append("Received: from hop").Append(i).Append("\r\n\tby next; date\r\n");
        sb.Append("\r\nbody\r\n");
        Assert.Equal(ReceivedHeaderCounter.DefaultLimit + 1, ReceivedHeaderCounter.CountIn(Encoding.ASCII.GetBytes(sb.ToString())));
    }
}
