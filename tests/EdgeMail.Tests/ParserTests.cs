using System.Net;
using EdgeMail.Config;

namespace EdgeMail.Tests;

/// <summary>The value parsers shared by the config file and the command line.</summary>
public sealed class ParserTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1048576", 1048576L)]
    [InlineData("25MiB", 25L << 20)]
    [InlineData("64M", 64L << 20)]
    [InlineData("64m", 64L << 20)]
    [InlineData("512KiB", 512L << 10)]
    [InlineData("10 kB", 10_000L)]
    [InlineData("1G", 1L << 30)]
    [InlineData("3GB", 3_000_000_000L)]
    [InlineData("2TiB", 2L << 40)]
    [InlineData("100B", 100L)]
    public void A_size_is_bytes_or_a_number_with_a_unit(string text, long bytes)
    {
        Assert.Null(ByteSize.TryParse(text, out ByteSize size));
        Assert.Equal(bytes, size.Bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MiB")]
    [InlineData("-1")]
    [InlineData("1.5G")]
    [InlineData("25 MegaBytes")]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999TiB")]
    public void Anything_else_is_not_a_size(string text)
    {
        Assert.NotNull(ByteSize.TryParse(text, out _));
    }

    [Theory]
    [InlineData(25L << 20, "25MiB")]
    [InlineData(1L << 30, "1GiB")]
    [InlineData(1000L, "1000")]
    public void A_size_prints_in_its_shortest_exact_binary_form(long bytes, string text)
    {
        Assert.Equal(text, new ByteSize(bytes).ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:2525", "127.0.0.1", 2525)]
    [InlineData("0.0.0.0:25", "0.0.0.0", 25)]
    [InlineData("[::1]:0", "::1", 0)]
    [InlineData("[::]:25", "::", 25)]
    [InlineData("localhost:2525", "127.0.0.1", 2525)]
    public void A_listen_address_is_an_IP_literal_and_a_port(string text, string address, int port)
    {
        Assert.Null(ListenAddress.TryParse(text, out IPEndPoint endPoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endPoint);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData(":25")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("::1:25")]
    [InlineData("[127.0.0.1]:25")]
    [InlineData("1.2.3:25")]
    [InlineData("0x7f.0.0.1:25")]
    [InlineData("mail.example.com:25")]
    public void Anything_else_is_not_a_listen_address(string text)
    {
        Assert.NotNull(ListenAddress.TryParse(text, out _));
    }

    [Fact]
    public void A_bound_endpoint_prints_as_the_listening_line_expects()
    {
        Assert.Equal("127.0.0.1:2525", ListenAddress.Format(new IPEndPoint(IPAddress.Loopback, 2525)));
        Assert.Equal("[::1]:2525", ListenAddress.Format(new IPEndPoint(IPAddress.IPv6Loopback, 2525)));
        Assert.Equal("127.0.0.1:25", ListenAddress.Format(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 25)));
    }
}
