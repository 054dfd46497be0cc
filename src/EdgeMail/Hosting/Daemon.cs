using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using EdgeMail.Cli;
using EdgeMail.Commands;
using EdgeMail.Config;
using EdgeMail.Device;
using EdgeMail.Device.Leds;
using EdgeMail.Logging;
using EdgeMail.Relay;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Hosting;

/// <summary>
/// The running daemon, started in dependency order and stopped in reverse:
/// spool → server options (certificate, users, policy, limits) → listeners → relay → device (LEDs, sensors,
/// alerts) → spool watch (LED state, maildrop) → daemon socket (queue control, listing, status) → "listening on" → READY=1.
/// Every step that can fail for a reason the operator can fix exits with its sysexits code before the
/// "listening on" lines, so a supervisor never sees a half-started daemon as ready.
/// </summary>
internal sealed class Daemon(CliContext context, EdgeMailConfig config, LogSink sink)
{
    private readonly ILogger _log = sink.CreateLogger("edgemail");

    public async Task<int> RunAsync(Task? stop)
    {
        MessageSpool spool;
        try
        {
            spool = MessageSpool.Open(new SpoolOptions
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

        using (spool)
        {
            // Two daemons on one spool would deliver everything twice; the spool's lock says who was first.
            if (spool.IsReadOnly)
            {
                context.Fail($"another edgemail serve already runs on the spool folder {config.Spool.Directory}; stop it first or use another --spool");
                return ExitCodes.CantCreate;
            }
            return await RunOnAsync(spool, stop).ConfigureAwait(false);
        }
    }

    private async Task<int> RunOnAsync(MessageSpool spool, Task? stop)
    {
        DateTimeOffset started = context.Time.GetUtcNow();
        SmtpServerOptions options = ServeCommand.ToServerOptions(config.Server);
        IReadOnlyList<ListenerEndpoint> endpoints = Composition.Endpoints(config);
        try
        {
            Composition.ApplySecurity(config, options, sink.CreateLogger("users"));
            if (config.Tls.Starttls || config.Tls.ImplicitListen.Count > 0)
            {
                string stateDirectory = config.Tls.StateDirectory.Length > 0
                    ? Path.GetFullPath(config.Tls.StateDirectory, context.CurrentDirectory)
                    : config.Spool.Directory;
                ILogger tlsLog = sink.CreateLogger("tls");
                if (config.Tls.Certificate.Length > 0)
                {
                    // The administrator's own certificate: loaded now, so a wrong path or key stops start-up (exit 78).
                    options.Certificate = ServerCertificateProvider.Resolve(
                        Path.GetFullPath(config.Tls.Certificate, context.CurrentDirectory),
                        config.Tls.Key.Length > 0 ? Path.GetFullPath(config.Tls.Key, context.CurrentDirectory) : null,
                        stateDirectory, options.HostName, context.Time, tlsLog).Certificate;
                }
                else
                {
                    // The generated self-signed one: made (or loaded) at the first TLS handshake, so OpenSSL is only
                    // loaded when a client asks for TLS (BENCHMARKS.md, Memory). Its folder is checked now.
                    string hostName = options.HostName;
                    ServerCertificateProvider.PrepareSelfSigned(stateDirectory);
                    options.CertificateSource = () => ServerCertificateProvider.Resolve(null, null, stateDirectory, hostName, context.Time, tlsLog).Certificate;
                    tlsLog.LogInformation("STARTTLS offered with the self-signed certificate in {Path}, made or loaded at the first TLS handshake",
                        ServerCertificateProvider.SelfSignedPath(stateDirectory));
                }
            }
        }
        catch (UsersFileException e)
        {
            context.Fail($"config error: auth.users_file {config.Auth.UsersFile}" + (e.Line > 0 ? $" line {e.Line}" : "") + $": {e.Message}");
            return ExitCodes.Config;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            context.Fail($"config error: tls: {e.Message}");
            return ExitCodes.Config;
        }

        RelayService? relay = null;
        try
        {
            if (config.Relay.Delivers())
                relay = new RelayService(Composition.Relay(config, options.HostName), spool, sink.CreateLogger("relay"), context.Time);
        }
        catch (RelayConfigException e)
        {
            context.Fail("config error: relay: " + e.Message);
            return ExitCodes.Config;
        }
        catch (InvalidOperationException e)
        {
            context.Fail(e.Message);
            return ExitCodes.CantCreate;
        }

        await using (relay ?? (IAsyncDisposable)NoRelay.Instance)
        await using (var listener = new SmtpListener(endpoints, options, spool, sink.CreateLogger("smtpd")))
        {
            IReadOnlyList<IPEndPoint> bound;
            try
            {
                bound = listener.Start();
            }
            catch (SocketException e)
            {
                context.Fail($"cannot listen on {string.Join(", ", endpoints.Select(p => ListenAddress.Format(p.EndPoint)))}: {e.Message}");
                return ExitCodes.OsError;
            }
            if (relay is not null) await relay.StartAsync().ConfigureAwait(false);
            else _log.LogWarning("no [relay] upstream, no route and mx_delivery = false: mail is accepted and stays queued");

            var state = new DeviceState();
            if (relay is not null)
            {
                // The error LED's "upstream failing" comes from the relay's own per-route table (a route whose last
                // attempt was deferred). The event fires on a flip; the handler reads the current value, so two flips
                // close together cannot leave it stale.
                RouteHealth health = relay.Health;
                state.UpstreamFailing = health.AnyFailing;
                health.FailingChanged += () =>
                {
                    state.UpstreamFailing = health.AnyFailing;
                    SaveRoutes(relay);
                };
            }
            DeviceHost device = DeviceHost.Start(Composition.Device(config, options.HostName), spool, state, context.Time, sink.CreateLogger("device"));
            var watch = new SpoolWatch(spool, state, sink.CreateLogger("maildrop"), context.Time);
            DaemonSocketServer? socket = null;
            try
            {
            watch.Start();
            string[] upstreams = [.. config.Relay.Upstream];
            string spoolDirectory = config.Spool.Directory;
            StatusReport Report()
            {
                var report = new StatusReport
                {
                    Daemon = true,
                    Pid = Environment.ProcessId,
                    Version = ServeCommand.VersionText(),
                    Started = started,
                    UptimeSeconds = (long)(context.Time.GetUtcNow() - started).TotalSeconds,
                    Spool = config.Spool.Directory,
                };
                StatusReports.FillQueue(report, spool.List(), QueueListing.ReadMaildrop(spoolDirectory).Count, context.Time.GetUtcNow());
                if (relay is not null) report.Routes = [.. relay.Health.Snapshot()];
                report.UpstreamFailing = state.UpstreamFailing;
                StatusReports.FillDevice(report, device.Status());
                return report;
            }
            // The socket's requests, answered by the relay when it runs (so its schedule sees the change at once) and
            // by the spool alone when nothing is delivered.
            DaemonReply Handle(DaemonVerb verb, string? id)
            {
                switch (verb)
                {
                    case DaemonVerb.Flush:
                        if (relay is null) return new DaemonReply(true, "nothing to flush: this daemon does not deliver (no upstream, no route, mx_delivery = false)");
                        relay.Flush();
                        return new DaemonReply(true, "flushing");
                    case DaemonVerb.Delete:
                        return Done(relay?.Delete(id!) ?? spool.Delete(id!), id!, "deleted");
                    case DaemonVerb.Hold:
                        return Done(relay?.Hold(id!) ?? spool.Hold(id!), id!, "held");
                    case DaemonVerb.Release:
                        return Done(relay?.Release(id!) ?? spool.Release(id!), id!, "released");
                    case DaemonVerb.List:
                        // The maildrop first: a drop imported in between is then listed once, as queued.
                        IReadOnlyList<QueueEntry> drops = QueueListing.ReadMaildrop(spoolDirectory);
                        return new DaemonReply(true, "", messages: QueueListing.Merge(spool.List(), drops));
                    default:
                        return new DaemonReply(true, "", status: Report());
                }
            }
            try
            {
                socket = new DaemonSocketServer(spoolDirectory, Handle, _log);
            }
            catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
            {
                // E.g. a spool path longer than a Unix socket address allows (108 bytes).
                context.Fail($"cannot create the daemon socket {Path.Combine(spoolDirectory, DaemonProtocol.SocketName)}: {e.Message}");
                return ExitCodes.OsError;
            }

            // The one stdout contract: a line per bound endpoint, flushed, before anything else is
            // printed there. Tests and scripts wait for it instead of sleeping.
            for (int i = 0; i < bound.Count; i++)
                context.Out.WriteLine("listening on " + ListenAddress.Format(bound[i]) + (i < endpoints.Count && endpoints[i].ImplicitTls ? " (tls)" : ""));
            context.Out.Flush();
            _log.LogInformation("EdgeMail {Version} ready as {Host}, spool {Spool}, relay {Relay}",
                ServeCommand.VersionText(), options.HostName, config.Spool.Directory, upstreams.Length > 0 ? string.Join(", ", upstreams) : relay is null ? "off" : "direct MX");
            SystemdNotify.Ready();
            using var watchdogStop = new CancellationTokenSource();
            Task watchdog = SystemdNotify.RunWatchdogAsync(() => true, watchdogStop.Token);

            string why = await (stop is null
                ? ServeCommand.WaitForSignalAsync()
                : stop.ContinueWith(_ => "stop requested", TaskScheduler.Default)).ConfigureAwait(false);
            SystemdNotify.Stopping();
            _log.LogInformation("{Why}: stopping", why);
            await watchdogStop.CancelAsync().ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
            }
            finally
            {
                // Reverse order: the daemon socket, the watch and the device first; then (below) the relay
                // finishes its rounds and the listener lets sessions in progress finish.
                if (socket is not null) await socket.DisposeAsync().ConfigureAwait(false);
                await watch.DisposeAsync().ConfigureAwait(false);
                await device.DisposeAsync().ConfigureAwait(false);
            }
            using var grace = new CancellationTokenSource(ServeCommand.StopGrace);
            try
            {
                if (relay is not null) await relay.StopAsync(grace.Token).ConfigureAwait(false);
                await listener.StopAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _log.LogWarning("deliveries or sessions still open after {Seconds} s were cut off", (int)ServeCommand.StopGrace.TotalSeconds);
            }
            if (relay is not null) SaveRoutes(relay);
            _log.LogInformation("stopped");
        }
        return ExitCodes.Ok;
    }

    private static DaemonReply Done(bool ok, string id, string done) => new(ok, DaemonProtocol.Outcome(ok, id, done));

    /// <summary>Keeps the route table where `status` finds it while the daemon is down. A failure costs only that
    /// report: one log line, never the daemon.</summary>
    private void SaveRoutes(RelayService relay)
    {
        try
        {
            StatusReports.SaveRoutes(config.Spool.Directory, relay.Health.Snapshot());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("cannot save the route table for `status`: {Error}", e.Message);
        }
    }
}

internal sealed class NoRelay : IAsyncDisposable
{
    public static readonly NoRelay Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
