using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace EdgeMail.Smtp.Tests.Support;

/// <summary>
/// A hand-driven SMTP client on a real socket, for the tests that go through the listener. Replies are read byte by
/// byte, so no read-ahead ever swallows bytes meant for a TLS handshake, and TLS can start on the same connection.
/// </summary>
public sealed class WireClient : IAsyncDisposable, IDisposable
{
    private readonly TcpClient _tcp;

    private WireClient(TcpClient tcp)
    {
        _tcp = tcp;
        Stream = tcp.GetStream();
    }

    /// <summary>What the client reads and writes: the socket, or TLS over it after <see cref="HandshakeAsync"/>.</summary>
    public Stream Stream { get; private set; }

    /// <summary>Connects to <paramref name="server"/>, from the address <paramref name="from"/> when one is given
    /// (Linux routes all of 127.0.0.0/8 to lo, so loopback tests can be several clients).</summary>
    public static async Task<WireClient> ConnectAsync(IPEndPoint server, IPAddress? from = null)
    {
        var tcp = from is null ? new TcpClient(server.AddressFamily) : new TcpClient(new IPEndPoint(from, 0));
        try
        {
            await tcp.ConnectAsync(server);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
        return new WireClient(tcp);
    }

    /// <summary>Writes <paramref name="text"/> as it is: the test writes the CRLFs, so it can pipeline commands.</summary>
    public Task SendAsync(string text) => Stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    /// <summary>One line the server wrote, without its CRLF; null once the server has closed the connection.</summary>
    public Task<string?> ReadLineAsync() => ReadLineAsync(Stream);

    /// <summary>All lines of one (possibly multi-line) reply; fewer if the server closes in the middle of it.</summary>
    public async Task<List<string>> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (await ReadLineAsync() is { } line)
        {
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
                break;
        }
        return lines;
    }

    /// <summary>Sends <paramref name="line"/> and CRLF, and reads the reply.</summary>
    public async Task<List<string>> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>
    /// The client side of a TLS 1.2/1.3 handshake on the connection as it is (after 220 to STARTTLS, or at once on an
    /// implicit-TLS port); from then on the client reads and writes through TLS. Any certificate is trusted: the tests
    /// make their own, and which one the server presents is not what they test.
    /// </summary>
    public async Task HandshakeAsync()
    {
        var ssl = new SslStream(Stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        Stream = ssl;
    }

    /// <summary>Reads one line from <paramref name="stream"/> byte by byte and returns it without its CRLF (null at the
    /// end of the stream), leaving every byte after it unread.</summary>
    public static async Task<string?> ReadLineAsync(Stream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0)
                return bytes.Count == 0 ? null : Encoding.UTF8.GetString(bytes.ToArray());
            if (one[0] == '\n')
                return Encoding.UTF8.GetString(bytes.ToArray()).TrimEnd('\r');
            bytes.Add(one[0]);
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        _tcp.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _tcp.Dispose();
    }
}
