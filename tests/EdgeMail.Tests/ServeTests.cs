using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using EdgeMail.Cli;
using EdgeMail.Commands;

namespace EdgeMail.Tests;

/// <summary>
/// `serve` in-process with the real spool and listener on loopback port 0: the "listening on" contract,
/// a message in and listed, a graceful stop, and the exit code for each start-up failure.
/// </summary>
public sealed partial class ServeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-serve-").FullName;
    private readonly LineWriter _out = new();
    private readonly StringWriter _err = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CliContext Context => new() { Out = _out, Error = TextWriter.Synchronized(_err), CurrentDirectory = _dir };

    // MX delivery is off here: example.com mail must stay queued to be listed, not go out to (or bounce from)
    // whatever this machine's resolver says about example.com.
    private static ServeCommand.Request Request(string[]? listen = null, string? spool = "spool", string? config = null, string[]? relay = null) =>
        new(config, listen ?? ["127.0.0.1:0"], spool, relay, Verbose: false, MxDelivery: false);

    [GeneratedRegex(@"^listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningLine();

    [Fact]
    public async Task Serve_prints_one_listening_line_per_endpoint_with_the_real_port_takes_mail_and_stops_with_exit_0()
    {
        var stop = new TaskCompletionSource();
        Task<int> serve = ServeCommand.RunAsync(Context, Request(), stop.Task);

        string line = await _out.FirstLine.WaitAsync(TimeSpan.FromSeconds(30));
        Match match = ListeningLine().Match(line);
        Assert.True(match.Success, line);
        int port = int.Parse(match.Groups[1].Value);
        Assert.NotEqual(0, port);

        string reply = await SendOneMessageAsync(port);
        Assert.StartsWith("250 2.0.0 Ok: queued as ", reply);

        stop.SetResult();
        Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Single(_out.Lines);

        string id = reply["250 2.0.0 Ok: queued as ".Length..].Trim();
        var listing = new StringWriter();
        Assert.Equal(0, await QueueCommand.RunAsync(new CliContext { Out = listing, Error = _err, CurrentDirectory = _dir }, null, "spool", json: false));
        Assert.StartsWith(id + "  ", listing.ToString());
        Assert.Contains("-> rcpt@example.com", listing.ToString());
    }

    [Fact]
    public async Task Serve_on_a_port_in_use_exits_71_naming_the_address()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        string address = taken.LocalEndPoint!.ToString()!;

        int code = await ServeCommand.RunAsync(Context, Request(listen: [address]), Task.Delay(Timeout.Infinite));

        Assert.Equal(ExitCodes.OsError, code);
        Assert.Contains($"cannot listen on {address}", _err.ToString());
        Assert.Empty(_out.Lines);
    }

    [Fact]
    public async Task Serve_with_a_spool_that_cannot_be_created_exits_73_naming_the_folder()
    {
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");

        int code = await ServeCommand.RunAsync(Context, Request(spool: Path.Combine(file, "spool")), Task.Delay(Timeout.Infinite));

        Assert.Equal(ExitCodes.CantCreate, code);
        Assert.Contains($"cannot open the spool folder {file}", _err.ToString());
    }

    [Fact]
    public async Task Serve_with_a_bad_config_exits_78_before_touching_the_spool()
    {
        string config = Path.Combine(_dir, "bad.toml");
        File.WriteAllText(config, "[server]\nmax_errors = -1\n");

        int code = await ServeCommand.RunAsync(Context, Request(config: config), Task.Delay(Timeout.Infinite));

        Assert.Equal(ExitCodes.Config, code);
        Assert.Contains("server.max_errors", _err.ToString());
        Assert.False(Directory.Exists(Path.Combine(_dir, "spool")));
    }

    [Theory]
    [InlineData(false, "Could not find file")]
    [InlineData(true, "contains no PEM certificate")]
    public async Task Serve_with_a_CA_file_it_cannot_use_exits_78_naming_the_upstream_and_the_file(bool exists, string why)
    {
        string config = Path.Combine(_dir, "edgemail.toml");
        string caFile = Path.Combine(_dir, "ca.pem");
        if (exists) File.WriteAllText(caFile, "not a certificate\n");
        File.WriteAllText(config, "[relay]\nupstream = [\"smtps://a.example\", \"smtps://b.example\"]\n"
            + $"[relay.tls.\"smtps://b.example\"]\nca_file = \"{caFile}\"\n");

        int code = await ServeCommand.RunAsync(Context, Request(config: config), Task.Delay(Timeout.Infinite));

        Assert.Equal(ExitCodes.Config, code);
        Assert.Contains($"config error: relay: upstream smtps://b.example: CA file {caFile} cannot be used: ", _err.ToString());
        Assert.Contains(why, _err.ToString());
        Assert.Empty(_out.Lines);
    }

    [Fact]
    public void Listen_spool_and_relay_flags_replace_the_file_values()
    {
        string config = Path.Combine(_dir, "edgemail.toml");
        File.WriteAllText(config, "[server]\nlisten = [\"0.0.0.0:25\"]\n[spool]\ndirectory = \"/var/spool/edgemail\"\n[relay]\nupstream = [\"smtp://a.example\"]\n");

        var resolved = ServeCommand.ResolveConfig(Context,
            Request(listen: ["127.0.0.1:0", "[::1]:0"], spool: "q", config: config, relay: ["smtps://b.example"]));

        Assert.Equal(["127.0.0.1:0", "[::1]:0"], resolved.Server.Listen);
        Assert.Equal(Path.Combine(_dir, "q"), resolved.Spool.Directory);
        Assert.Equal(["smtps://b.example:465"], resolved.Relay.Upstreams().Select(u => u.ToString()));
    }

    [Fact]
    public void Without_flags_the_file_values_stand()
    {
        string config = Path.Combine(_dir, "edgemail.toml");
        File.WriteAllText(config, "[server]\nlisten = [\"0.0.0.0:25\"]\n[relay]\nupstream = [\"smtp://a.example\"]\n");

        var resolved = ServeCommand.ResolveConfig(Context, new ServeCommand.Request(config, null, null, null, false));

        Assert.Equal(["0.0.0.0:25"], resolved.Server.Listen);
        Assert.Equal(Path.Combine(_dir, "spool"), resolved.Spool.Directory);
        Assert.Equal("smtp://a.example:25", resolved.Relay.Upstreams()[0].ToString());
    }

    [Fact]
    public void Without_an_upstream_or_route_mail_goes_by_MX_unless_mx_delivery_is_false()
    {
        var byDefault = ServeCommand.ResolveConfig(Context, new ServeCommand.Request(null, null, "spool", null, false));
        Assert.True(byDefault.Relay.MxDelivery);
        Assert.True(byDefault.Relay.Delivers());

        string config = Path.Combine(_dir, "edgemail.toml");
        File.WriteAllText(config, "[relay]\nmx_delivery = false\n");
        var held = ServeCommand.ResolveConfig(Context, new ServeCommand.Request(config, null, null, null, false));
        Assert.False(held.Relay.Delivers());

        var flagged = ServeCommand.ResolveConfig(Context, new ServeCommand.Request(config, null, null, null, false, MxDelivery: true));
        Assert.True(flagged.Relay.Delivers());
    }

    [Fact]
    public void Server_keys_become_listener_options()
    {
        var config = Config.ConfigLoader.Parse("[server]\nhostname = \"mx.lan\"\nmax_message_size = \"1MiB\"\ndata_block_timeout = 7\nreject_bare_newlines = false\n", "t.toml", _dir);
        var options = ServeCommand.ToServerOptions(config.Server);

        Assert.Equal("mx.lan", options.HostName);
        Assert.Equal(1L << 20, options.MaxMessageSize);
        Assert.Equal(TimeSpan.FromSeconds(7), options.DataBlockTimeout);
        Assert.False(options.RejectBareLineEndings);
    }

    // A minimal client: this only checks the composition, the protocol has its own tests.
    private static async Task<string> SendOneMessageAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        using NetworkStream stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        async Task<string> Reply()
        {
            string? line;
            do { line = await reader.ReadLineAsync() ?? throw new IOException("closed"); } while (line.Length > 3 && line[3] == '-');
            return line;
        }
        async Task<string> Say(string command)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
            return await Reply();
        }
        await Reply();
        await Say("EHLO test.lan");
        await Say("MAIL FROM:<app@test.lan>");
        await Say("RCPT TO:<rcpt@example.com>");
        await Say("DATA");
        string queued = await Say("Subject: t\r\n\r\nhello\r\n.");
        await Say("QUIT");
        return queued;
    }

    /// <summary>Captures stdout line by line and signals the first one (the tests wait on it, never sleep).</summary>
    private sealed class LineWriter : TextWriter
    {
        private readonly StringBuilder _line = new();
        private readonly TaskCompletionSource<string> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<string> Lines { get; } = [];
        public Task<string> FirstLine => _first.Task;
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (Lines)
            {
                if (value == '\n')
                {
                    Lines.Add(_line.ToString().TrimEnd('\r'));
                    _first.TrySetResult(Lines[0]);
                    _line.Clear();
                }
                else
                {
                    _line.Append(value);
                }
            }
        }
    }
}
