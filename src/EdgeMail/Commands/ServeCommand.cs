using System.CommandLine;
using System.Net;
using System.Reflection;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EdgeMail.Cli;
using EdgeMail.Config;
using EdgeMail.Hosting;
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
    internal static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);

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
        CommonOptions.ValidateEach(relay, RelayConfig.CheckUpstream, EdgeMail.Relay.Upstream.Allowed);

        Option<string> dns = new("--dns")
        {
            Description = "DNS server for MX delivery, IP[:PORT]; replaces [relay] dns_server.",
            HelpName = "HOST:PORT",
        };
        dns.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && RelayConfig.CheckDnsServer(r.Tokens[0].Value) is { } error)
                r.AddError($"--dns: {error} (allowed: {RelayConfig.DnsAllowed})");
        });
        Option<int?> mxPort = new("--mx-port")
        {
            Description = "Port for direct MX delivery instead of 25 (lab networks); replaces [relay] mx_port.",
            HelpName = "N",
        };
        mxPort.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } n && n is < 1 or > 65535) r.AddError("--mx-port: must be from 1 to 65535");
        });
        // A value is required: a bare `--mx-delivery` reads like a switch, and scripts should say which way.
        Option<bool?> mxDelivery = new("--mx-delivery")
        {
            Description = "With no upstream and no route: deliver to each domain's MX (true) or hold mail queued (false); replaces [relay] mx_delivery.",
            HelpName = "true|false",
            Arity = ArgumentArity.ExactlyOne,
        };
        Option<string> users = new("--users")
        {
            Description = "Users file for SMTP AUTH (made with `edgemail user add`); replaces [auth] users_file.",
            HelpName = "FILE",
        };
        Option<string[]> allowNet = new("--allow-net")
        {
            Description = "Network allowed to relay, ADDRESS/BITS (repeatable); replaces [policy] allowed_networks.",
            HelpName = "CIDR",
        };
        CommonOptions.ValidateEach(allowNet, PolicyConfig.CheckCidr, "a network \"ADDRESS/BITS\" or a single address");

        var command = new Command("serve", "Run the SMTP server: accept mail on the listen addresses into the durable spool and relay it.")
        {
            config, listen, spool, relay, dns, mxPort, mxDelivery, users, allowNet,
        };
        command.SetAction((result, _) => RunAsync(context, new Request(
            result.GetValue(config),
            result.GetValue(listen),
            result.GetValue(spool),
            result.GetValue(relay),
            Verbose: result.GetValue(verbose),
            Dns: result.GetValue(dns),
            MxPort: result.GetValue(mxPort),
            Users: result.GetValue(users),
            AllowNet: result.GetValue(allowNet),
            MxDelivery: result.GetValue(mxDelivery))));
        return command;
    }

    public sealed record Request(string? ConfigFile, string[]? Listen, string? Spool, string[]? Relay, bool Verbose,
        string? Dns = null, int? MxPort = null, string? Users = null, string[]? AllowNet = null, bool? MxDelivery = null);

    /// <summary>Everything after parsing; <paramref name="stop"/> stands in for the signals in tests.</summary>
    public static async Task<int> RunAsync(CliContext context, Request request, Task? stop = null)
    {
        EdgeMailConfig config;
        try
        {
            config = ResolveConfig(context, request);
            // Everything the file and flags say is checked before anything is opened.
            _ = Composition.Endpoints(config);
            _ = config.Relay.Upstreams();
            _ = config.Relay.RouteList();
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
        return await new Daemon(context, config, sink).RunAsync(stop).ConfigureAwait(false);
    }

    /// <summary>The config file (or the embedded one) with the flags on top: a flag replaces the whole key.</summary>
    /// <exception cref="ConfigException"/>
    public static EdgeMailConfig ResolveConfig(CliContext context, Request request)
    {
        EdgeMailConfig config = CommonOptions.LoadConfig(context, request.ConfigFile, request.Spool);
        if (request.Listen is { Length: > 0 }) config.Server.Listen = [.. request.Listen];
        if (request.Relay is { Length: > 0 }) config.Relay.Upstream = [.. request.Relay];
        if (request.Dns is { } dns) config.Relay.DnsServer = dns;
        if (request.MxPort is { } mxPort) config.Relay.MxPort = mxPort;
        if (request.MxDelivery is { } mxDelivery) config.Relay.MxDelivery = mxDelivery;
        if (request.Users is { } users) config.Auth.UsersFile = Path.GetFullPath(users, context.CurrentDirectory);
        if (request.AllowNet is { Length: > 0 }) config.Policy.AllowedNetworks = [.. request.AllowNet];
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

    internal static string SystemHostName()
    {
        // gethostname(2), no DNS: start-up must not hang on a Pi whose resolver is not up yet.
        string name = Dns.GetHostName();
        return ServerConfig.CheckHostname(name) is null && name.Length > 0 ? name : "localhost";
    }

    internal static Task<string> WaitForSignalAsync()
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
