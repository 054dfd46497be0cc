using EdgeMail.Smtp.Server;
using System.Net;
using System.CommandLine;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Device.Local;
using EdgeMail.Hosting;
using EdgeMail.Spool;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail sendmail [flags] [recipients]`, and the binary run as `sendmail` or `mailq` through a symlink.
/// sendmail's getopt-style command line (-ti, -fme@x, -oi, -odi) is not something System.CommandLine can
/// parse, so Program hands these arguments here before its parser sees them and SendmailOptions parses
/// them. The message goes into the spool's maildrop, so it needs no daemon: a running one imports it, a
/// stopped one at its next start. Exit codes are sysexits.h's, which cron and scripts check.
/// </summary>
public static class SendmailCommand
{
    /// <summary>The names that take the sendmail command line (argv[0] or the first argument).</summary>
    public static bool Handles(string name) => name is "sendmail" or "mailq";

    /// <summary>Stand-ins for `edgemail --help`: the real parsing happens in <see cref="RunAsync"/>.</summary>
    public static IEnumerable<Command> HelpEntries() =>
    [
        new Command("sendmail", "Queue a message from standard input, sendmail-compatible: -t, -f/-r ADDR, -F NAME, -i/-oi, -bp, -q; --spool/--config."),
        new Command("mailq", "List the queue in the layout of Postfix's mailq (same as sendmail -bp)."),
    ];

    /// <param name="invokedAs">"sendmail" or "mailq" (mailq lists the queue).</param>
    /// <param name="args">The arguments after the program name or verb.</param>
    public static async Task<int> RunAsync(CliContext context, string invokedAs, IReadOnlyList<string> args,
        CancellationToken cancellationToken = default)
    {
        if (args.Count == 1 && args[0] == "--help")
        {
            context.Out.WriteLine(Usage(invokedAs));
            context.Out.Flush();
            return Sysexits.Ok;
        }
        SendmailOptions options = SendmailOptions.Parse(args, invokedAs);
        if (options.Error is not null)
            return Fail(context, invokedAs, options.Error, Sysexits.Usage);

        EdgeMailConfig config;
        try
        {
            config = CommonOptions.LoadConfig(context, options.ConfigFile, options.SpoolDirectory);
        }
        catch (ConfigException e)
        {
            return Fail(context, invokedAs, "config error: " + e.Message, Sysexits.Config);
        }
        string spool = config.Spool.Directory;

        switch (options.Mode)
        {
            case SendmailMode.ListQueue:
                return await ListQueueAsync(context, invokedAs, spool, cancellationToken);
            case SendmailMode.Flush:
                return await FlushAsync(context, invokedAs, spool, cancellationToken);
            case SendmailMode.Smtp:
                return await SmtpOnStandardIoAsync(context, config, spool, cancellationToken);
        }

        SendmailDefaults defaults = Defaults(context, config);
        SendmailResult result = await SendmailMessage.SendAsync(context.Input, options, defaults, spool, context.Time, cancellationToken);
        if (!result.Ok)
            return Fail(context, invokedAs, result.Error ?? "the message was not queued", result.ExitCode);
        // sendmail is silent on success; the queue ID goes to stderr only with -v, which we ignore.
        return Sysexits.Ok;
    }

    /// <summary>
    /// -bs: our own SMTP server session, spoken on stdin/stdout (inetd style, as MUAs and some appliances'
    /// scripts use it). Accepted messages go into the maildrop, fsynced before the 250, like every local
    /// submission; the daemon imports them. The caller is a local user: no relay control, as for -t.
    /// </summary>
    private static async Task<int> SmtpOnStandardIoAsync(CliContext context, EdgeMailConfig config, string spool, CancellationToken cancellationToken)
    {
        SmtpServerOptions options = ServeCommand.ToServerOptions(config.Server);
        using MessageSpool dropbox = MessageSpool.OpenDropbox(spool);
        var session = new SmtpSession(new StandardIoStream(context.Input, context.OutputStream),
            new IPEndPoint(IPAddress.Loopback, 0), options, dropbox, null);
        await session.RunAsync(cancellationToken);
        return Sysexits.Ok;
    }

    /// <summary>stdin and stdout as one duplex stream for the SMTP session.</summary>
    private sealed class StandardIoStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => input.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            => output.WriteAsync(buffer, cancellationToken);
        public override void Flush() => output.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Who a message is from when neither -f nor a From: says: the calling user at this host, like
    /// every sendmail. The host is [server] hostname, else the system's name.</summary>
    internal static SendmailDefaults Defaults(CliContext context, EdgeMailConfig config)
    {
        string host = config.Server.Hostname.Length > 0 ? config.Server.Hostname : Environment.MachineName;
        string user = context.GetEnvironmentVariable("USER") is { Length: > 0 } u ? u
            : context.GetEnvironmentVariable("LOGNAME") is { Length: > 0 } l ? l
            : Environment.UserName;
        return new SendmailDefaults
        {
            Sender = user + "@" + host,
            Domain = host,
            HostName = host,
            MaxMessageSize = config.Server.MaxMessageSize.Bytes,
        };
    }

    private static async Task<int> ListQueueAsync(CliContext context, string invokedAs, string spool, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(spool))
            return Fail(context, invokedAs, $"no spool folder at {spool}", ExitCodes.NoInput);
        List<QueueItem> entries;
        try
        {
            // The daemon's listing, or the spool's files read without opening the spool (no lock, nothing imported).
            entries = await DaemonClient.ListAsync(spool, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
        {
            return Fail(context, invokedAs, $"cannot read the spool folder {spool}: {e.Message}", Sysexits.IoErr);
        }
        MailQueueListing.Write(entries, context.Out);
        context.Out.Flush();
        return Sysexits.Ok;
    }

    private static async Task<int> FlushAsync(CliContext context, string invokedAs, string spool, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(spool))
            return Fail(context, invokedAs, $"no spool folder at {spool}", ExitCodes.NoInput);
        QueueControlResult result;
        try
        {
            result = await DaemonClient.ControlAsync(spool, DaemonVerb.Flush, null, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException
                                      or OperationCanceledException)
        {
            return Fail(context, invokedAs, $"cannot reach the queue in {spool}: {e.Message}", Sysexits.TempFail);
        }
        return result.Ok ? Sysexits.Ok : Fail(context, invokedAs, result.Message, Sysexits.TempFail);
    }

    private static string Usage(string name) => name == "mailq"
        ? "Usage: mailq [--spool DIR] [--config FILE]\n  Lists the queue in the layout of Postfix's mailq."
        : $"""
           Usage: {name} [flags] [recipient...] < message
             -t              also send to the To:, Cc: and Bcc: addresses of the message (Bcc: is removed)
             -f ADDR, -r ADDR envelope sender ("<>" for none); default: $USER@ the [server] hostname
             -F NAME         full name for the From: header added when the message has none
             -i, -oi         a line with a single "." does not end the message
             -bp             list the queue (as mailq); -q: ask the daemon to retry the queue now
             --spool DIR, --config FILE   as for the other edgemail verbs
           Other Sendmail flags (-oem, -odi, -v, -N ...) are accepted and ignored.
           Exit codes follow sysexits.h: 64 usage, 65 bad message, 67 bad address, 75 spool busy/full, 78 config.
           """;

    private static int Fail(CliContext context, string invokedAs, string message, int code)
    {
        context.Error.WriteLine($"{invokedAs}: {message}");
        context.Error.Flush();
        return code;
    }
}
