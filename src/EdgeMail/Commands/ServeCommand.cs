using System.CommandLine;
using System.Net;
using System.Reflection;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Logging;
using EdgeMail.Smtp.Server;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Commands;

/// <summary>
/// `edgemail serve`: the daemon and the composition root. Config → spool (with start-up recovery) →
/// SMTP listener → "listening on" per endpoint → run until SIGTERM/SIGINT → graceful stop → exit 0.
/// </summary>
public static class ServeCommand
{
    /// <summary>How long sessions in progress get to finish after SIGTERM (systemd waits 90 s by default).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);

    public static Command Create(CliContext context, Option<bool> verbose)
    {
        Option<string> config = CommonOptions.Config();
        Option<string[]> listen = new("--listen", "-l")
        {
            Description = "Listen on HOST:PORT (repeatable; port 0 = any free port); replaces [server] listen.",
            HelpName = "HOST:PORT",
        };
        CommonOptions.ValidateEach(listen, s => ListenAddress.TryParse(s, out _), ListenAddress.Allowed);
        Option<string> spool = CommonOptions.Spool();
        Option<string[]> relay = new("--relay")
        {
            Description = "Upstream smarthost URL, smtp://, smtp+starttls:// or smtps:// (repeatable, tried in order); replaces [relay] upstream.",
            HelpName = "URL",
        };
        CommonOptions.ValidateEach(relay, s => RelayUpstream.TryParse(s, out _), RelayUpstream.Allowed);

        var command = new Command("serve", "Run the SMTP server: accept mail on the listen addresses into the durable spool.")
        {
            config, listen, spool, relay,
        };
        command.SetAction((result, _) => RunAsync(context, new Request(
            result.GetValue(config),
            result.GetValue(listen),
            result.GetValue(spool),
            result.GetValue(relay),
            Verbose: result.GetValue(verbose))));
        return command;
    }

    public sealed record Request(string? ConfigFile, string[]? Listen, string? Spool, string[]? Relay, bool Verbose);

    /// <summary>Everything after parsing; <paramref name="stop"/> stands in for the signals in tests.</summary>
    public static async Task<int> RunAsync(CliContext context, Request request, Task? stop = null)
    {
        EdgeMailConfig config;
        IReadOnlyList<IPEndPoint> endPoints;
        IReadOnlyList<RelayUpstream> upstreams;
        try
        {
            config = ResolveConfig(context, request);
            endPoints = config.Server.ListenEndPoints();
            upstreams = config.Relay.Upstreams();
        }
        catch (ConfigException e)
        {
            context.Fail("config error: " + e.Message);
            return ExitCodes.Config;
        }

        var sink = new LogSink(context.Error,
            request.Verbose ? LogLevel.Debug : config.Log.MinimumLevel(),
            LogSink.IsJournald(context.GetEnvironmentVariable("JOURNAL_STREAM")),
            context.Time);
        ILogger log = sink.CreateLogger("edgemail");
        // The relay issue consumes these; until then they are only checked and reported.
        if (upstreams.Count > 0)
            log.LogInformation("relay upstreams: {Upstreams}", string.Join(", ", upstreams));

        MessageSpool messageSpool;
        try
        {
            messageSpool = MessageSpool.Open(new SpoolOptions
            {
                Directory = config.Spool.Directory,
                MaxSpoolBytes = config.Spool.MaxSize.Bytes,
                MinFreeBytes = config.Spool.MinFree.Bytes,
            }, sink.CreateLogger("spool"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpoolException)
        {
            context.Fail($"cannot open the spool folder {config.Spool.Directory}: {e.Message}");
            return ExitCodes.CantCreate;
        }

        // MessageSpool.Open logs its own recovery report (one line: recovered, removed, moved to corrupt/).
        using (messageSpool)
        {

            SmtpServerOptions options = ToServerOptions(config.Server);
            await using var listener = new SmtpListener(endPoints, options, messageSpool, sink.CreateLogger("smtpd"));
            IReadOnlyList<IPEndPoint> bound;
            try
            {
                bound = listener.Start();
            }
            catch (SocketException e)
            {
                context.Fail($"cannot listen on {string.Join(", ", endPoints.Select(ListenAddress.Format))}: {e.Message}");
                return ExitCodes.OsError;
            }

            // The one stdout contract: a line per bound endpoint, flushed, before anything else is
            // printed there. Tests and scripts wait for it instead of sleeping.
            foreach (IPEndPoint endPoint in bound)
                context.Out.WriteLine("listening on " + ListenAddress.Format(endPoint));
            context.Out.Flush();
            log.LogInformation("EdgeMail {Version} ready as {Host}, spool {Spool}",
                VersionText(), options.HostName, config.Spool.Directory);

            string why = await (stop is null ? WaitForSignalAsync() : stop.ContinueWith(_ => "stop requested", TaskScheduler.Default));
            log.LogInformation("{Why}: stopping", why);
            using var grace = new CancellationTokenSource(StopGrace);
            try
            {
                await listener.StopAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                log.LogWarning("sessions still open after {Seconds} s were cut off", (int)StopGrace.TotalSeconds);
            }
            log.LogInformation("stopped");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The config file (or the embedded one) with the flags on top: a flag replaces the whole key.</summary>
    /// <exception cref="ConfigException"/>
    public static EdgeMailConfig ResolveConfig(CliContext context, Request request)
    {
        EdgeMailConfig config = CommonOptions.LoadConfig(context, request.ConfigFile, request.Spool);
        if (request.Listen is { Length: > 0 }) config.Server.Listen = [.. request.Listen];
        if (request.Relay is { Length: > 0 }) config.Relay.Upstream = [.. request.Relay];
        return config;
    }

    public static SmtpServerOptions ToServerOptions(ServerConfig server) => new()
    {
        HostName = server.Hostname.Length > 0 ? server.Hostname : SystemHostName(),
        MaxMessageSize = server.MaxMessageSize.Bytes,
        MaxRecipients = server.MaxRecipients,
        MaxConnections = server.MaxConnections,
        MaxConnectionsPerClient = server.MaxConnectionsPerClient,
        MaxErrors = server.MaxErrors,
        RejectBareLineEndings = server.RejectBareNewlines,
        CommandTimeout = TimeSpan.FromSeconds(server.CommandTimeout),
        DataInitTimeout = TimeSpan.FromSeconds(server.DataInitTimeout),
        DataBlockTimeout = TimeSpan.FromSeconds(server.DataBlockTimeout),
        DataTerminationTimeout = TimeSpan.FromSeconds(server.DataTerminationTimeout),
    };

    private static string SystemHostName()
    {
        // gethostname(2), no DNS: start-up must not hang on a Pi whose resolver is not up yet.
        string name = Dns.GetHostName();
        return ServerConfig.CheckHostname(name) is null && name.Length > 0 ? name : "localhost";
    }

    private static Task<string> WaitForSignalAsync()
    {
        var stopped = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Kept alive by the closure until the process ends; Cancel = true replaces the default
        // "terminate now" so sessions can finish and nothing half-acknowledged is left behind.
        PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.TrySetResult("SIGTERM"); });
        PosixSignalRegistration intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopped.TrySetResult("SIGINT"); });
        return stopped.Task.ContinueWith(t => { term.Dispose(); intr.Dispose(); return t.Result; }, TaskScheduler.Default);
    }

    internal static string VersionText()
    {
        string? version = typeof(ServeCommand).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return version ?? "unknown";
    }
}
