using System.Text;
using EdgeMail.Device.Leds;
using EdgeMail.Device.Sensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MimeKit;

namespace EdgeMail.Device.Alerts;

/// <summary>
/// Samples the sensors and turns readings into mail. Per rule:
///   Normal → (condition true) → Pending → (still true after For) → Firing → (cleared past hysteresis) → Normal.
/// Mail follows the state but never more often than the rule's cooldown: when a change falls inside
/// the cooldown, the mail for the state current at its end goes out then (so the last mail a recipient
/// got always matches reality, and a flapping input produces at most one mail per cooldown).
/// All timing comes from the TimeProvider: tests advance a fake clock and call <see cref="EvaluateAsync"/>.
/// </summary>
public sealed class AlertEngine
{
    private enum Phase { Normal, Pending, Firing }

    /// <summary>What was last mailed, and when: the cooldown gate.</summary>
    private struct MailGate
    {
        public bool MailedActive;
        public DateTimeOffset? LastMail;

        public readonly bool Due(bool active, DateTimeOffset now, TimeSpan cooldown) =>
            active != MailedActive && (LastMail is null || now - LastMail.Value >= cooldown);
    }

    private sealed class RuleState(AlertRule rule)
    {
        public readonly AlertRule Rule = rule;
        public Phase Phase;
        public DateTimeOffset Since;
        public double LastValue;
        public string Unit = "";
        public MailGate Gate;
    }

    private sealed class SensorState
    {
        public bool Lost;
        public string Error = "";
        public MailGate Gate;
        public double Min = double.PositiveInfinity, Max = double.NegativeInfinity;
    }

    private readonly AlertOptions _options;
    private readonly SensorSet _sensors;
    private readonly IAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DeviceState? _device;
    private readonly RuleState[] _rules;
    private readonly Dictionary<string, SensorState> _sensorStates = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyList<SensorSample> _latest = [];
    private DateTimeOffset? _nextDigest;

    public AlertEngine(AlertOptions options, SensorSet sensors, IAlertSink sink, TimeProvider? time = null,
        ILogger? logger = null, DeviceState? deviceState = null)
    {
        _options = options;
        _sensors = sensors;
        _sink = sink;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _device = deviceState;
        _rules = options.Rules.Select(r => new RuleState(r)).ToArray();
        foreach (var name in sensors.Names)
            _sensorStates[name] = new SensorState();
        if (options.Digest is not null)
            _nextDigest = NextDigestAfter(_time.GetUtcNow());
    }

    /// <summary>Configuration errors (for exit code 78 at start-up): bad rules, unknown sources.</summary>
    public static IReadOnlyList<string> Validate(AlertOptions options, IEnumerable<string> sensorNames)
    {
        var names = sensorNames.ToHashSet(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var r in options.Rules)
        {
            if (r.Validate() is { } e)
                errors.Add(e);
            if (!names.Contains(r.Source))
                errors.Add($"rule {r.Name}: no sensor named \"{r.Source}\"");
        }
        if (!MailboxAddress.TryParse(options.From, out _))
            errors.Add($"alerts: from \"{options.From}\" is not an address");
        return errors;
    }

    public IReadOnlyList<SensorSample> LatestReadings => Volatile.Read(ref _latest);

    /// <summary>The sensor (kind spool, percent used) whose reading feeds <see cref="DeviceState.SpoolFillRatio"/>.</summary>
    internal string? SpoolSensor { get; init; }

    /// <summary>Names of firing rules and lost sensors (for `edgemail status`).</summary>
    public IReadOnlyList<string> ActiveAlerts
    {
        get
        {
            _gate.Wait();
            try
            {
                return _rules.Where(r => r.Phase == Phase.Firing).Select(r => r.Rule.Name)
                    .Concat(_sensorStates.Where(s => s.Value.Lost).Select(s => "sensor lost: " + s.Key)).ToArray();
            }
            finally { _gate.Release(); }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await EvaluateAsync(cancellationToken).ConfigureAwait(false);
            await Task.Delay(_options.Interval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One round: sample every sensor, advance every rule, send what is due.</summary>
    public async Task EvaluateAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var samples = _sensors.Sample(now);
            Volatile.Write(ref _latest, samples);
            foreach (var s in samples)
                await TrackSensorAsync(s, now, cancellationToken).ConfigureAwait(false);
            if (_device is not null)
            {
                _device.SensorsLost = _sensorStates.Values.Count(s => s.Lost);
                if (SpoolSensor is not null && samples.FirstOrDefault(s => s.Name == SpoolSensor).Value is { } used)
                    _device.SpoolFillRatio = used / 100.0;
            }
            foreach (var rule in _rules)
            {
                var sample = samples.FirstOrDefault(s => s.Name == rule.Rule.Source);
                await EvaluateRuleAsync(rule, sample, now, cancellationToken).ConfigureAwait(false);
            }
            if (_nextDigest is { } due && now >= due)
            {
                if (await SendDigestAsync(now, cancellationToken).ConfigureAwait(false))
                {
                    foreach (var st in _sensorStates.Values)
                        (st.Min, st.Max) = (double.PositiveInfinity, double.NegativeInfinity);
                    _nextDigest = NextDigestAfter(now);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task TrackSensorAsync(SensorSample s, DateTimeOffset now, CancellationToken ct)
    {
        var st = _sensorStates[s.Name];
        st.Lost = !s.Ok;
        if (s.Value is { } v)
        {
            st.Min = Math.Min(st.Min, v);
            st.Max = Math.Max(st.Max, v);
        }
        else
            st.Error = s.Error ?? "";
        if (!st.Gate.Due(st.Lost, now, _options.LostCooldown))
            return;
        var to = _options.LostTo.Count > 0 ? _options.LostTo
            : _rules.Where(r => r.Rule.Source == s.Name).SelectMany(r => r.Rule.To).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (to.Count == 0)
        {
            st.Gate.MailedActive = st.Lost;   // nobody to tell; the log line from SensorSet is all
            return;
        }
        var state = st.Lost ? "SENSOR LOST" : "SENSOR BACK";
        var subject = $"[{_options.HostName}] {state}: {s.Name}";
        var body = new StringBuilder()
            .Append("Sensor:  ").Append(s.Name).Append("\r\n")
            .Append("State:   ").Append(st.Lost ? "lost — " + st.Error : "reading again: " + AlertMail.Number(s.Value!.Value) + s.Unit).Append("\r\n")
            .Append("Host:    ").Append(_options.HostName).Append("\r\n")
            .Append("Time:    ").Append(AlertMail.Time(now)).Append("\r\n");
        if (await SendAsync(to, subject, body.ToString(), now, ct).ConfigureAwait(false))
            st.Gate = new MailGate { MailedActive = st.Lost, LastMail = now };
    }

    private async Task EvaluateRuleAsync(RuleState r, SensorSample sample, DateTimeOffset now, CancellationToken ct)
    {
        var rule = r.Rule;
        if (sample.Value is { } v)
        {
            r.LastValue = v;
            r.Unit = sample.Unit;
            switch (r.Phase)
            {
                case Phase.Normal when rule.Triggered(v):
                    (r.Phase, r.Since) = (Phase.Pending, now);
                    break;
                case Phase.Pending when !rule.Triggered(v):
                    r.Phase = Phase.Normal;
                    break;
                case Phase.Firing when rule.Cleared(v):
                    (r.Phase, r.Since) = (Phase.Normal, now);
                    _logger.LogInformation("Alert {Rule} resolved: {Source} {Value}{Unit}", rule.Name, rule.Source, AlertMail.Number(v), sample.Unit);
                    break;
            }
            if (r.Phase == Phase.Pending && now - r.Since >= rule.For)
            {
                r.Phase = Phase.Firing;
                r.Since = now;
                _logger.LogWarning("Alert {Rule} firing: {Source} {Value}{Unit} {Condition} {Threshold}{Unit}",
                    rule.Name, rule.Source, AlertMail.Number(v), sample.Unit, rule.Condition, AlertMail.Number(rule.Threshold), sample.Unit);
            }
        }
        // A lost sensor holds the rule where it is; the lost-sensor mail covers it.

        var firing = r.Phase == Phase.Firing;
        if (!r.Gate.Due(firing, now, rule.Cooldown))
            return;
        if (!firing && !rule.Resolved)
        {
            r.Gate.MailedActive = false;
            return;
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["state"] = firing ? "ALERT" : "RESOLVED",
            ["rule"] = rule.Name,
            ["source"] = rule.Source,
            ["value"] = AlertMail.Number(r.LastValue),
            ["unit"] = r.Unit,
            ["condition"] = rule.Condition,
            ["threshold"] = AlertMail.Number(rule.Threshold),
            ["host"] = _options.HostName,
        };
        var clearsAt = rule.Above.HasValue ? rule.Threshold - rule.Hysteresis : rule.Threshold + rule.Hysteresis;
        var body = new StringBuilder()
            .Append("Rule:      ").Append(rule.Name).Append("\r\n")
            .Append("State:     ").Append(firing ? "ALERT" : "RESOLVED").Append(" since ").Append(AlertMail.Time(r.Since)).Append("\r\n")
            .Append("Sensor:    ").Append(rule.Source).Append("\r\n")
            .Append("Reading:   ").Append(AlertMail.Number(r.LastValue)).Append(r.Unit).Append("\r\n")
            .Append("Threshold: ").Append(rule.Condition).Append(' ').Append(AlertMail.Number(rule.Threshold)).Append(r.Unit)
                .Append(" for ").Append(rule.For).Append(", clears at ").Append(AlertMail.Number(clearsAt)).Append(r.Unit).Append("\r\n")
            .Append("Host:      ").Append(_options.HostName).Append("\r\n")
            .Append("Time:      ").Append(AlertMail.Time(now)).Append("\r\n");
        if (await SendAsync(rule.To, AlertMail.Fill(rule.Subject, values), body.ToString(), now, ct).ConfigureAwait(false))
            r.Gate = new MailGate { MailedActive = firing, LastMail = now };
    }

    private async Task<bool> SendDigestAsync(DateTimeOffset now, CancellationToken ct)
    {
        var body = new StringBuilder().Append("Daily report from ").Append(_options.HostName).Append(", ")
            .Append(AlertMail.Time(now)).Append("\r\n\r\n");
        foreach (var s in _latest)
        {
            var st = _sensorStates[s.Name];
            body.Append(s.Name).Append(": ");
            if (s.Value is { } v)
                body.Append(AlertMail.Number(v)).Append(s.Unit);
            else
                body.Append("lost (").Append(s.Error).Append(')');
            if (st.Min <= st.Max)
                body.Append("  [min ").Append(AlertMail.Number(st.Min)).Append(s.Unit).Append(", max ")
                    .Append(AlertMail.Number(st.Max)).Append(s.Unit).Append(']');
            body.Append("\r\n");
        }
        var active = _rules.Where(r => r.Phase == Phase.Firing).Select(r => r.Rule.Name).ToArray();
        body.Append("\r\nActive alerts: ").Append(active.Length == 0 ? "none" : string.Join(", ", active)).Append("\r\n");
        return await SendAsync(_options.Digest!.To, $"[{_options.HostName}] daily report", body.ToString(), now, ct).ConfigureAwait(false);
    }

    private async Task<bool> SendAsync(IReadOnlyList<string> to, string subject, string body, DateTimeOffset now, CancellationToken ct)
    {
        try
        {
            var message = AlertMail.Compose(_options.From, to, subject, body, _options.HostName, now);
            var id = await _sink.SubmitAsync(AlertMail.EnvelopeFor(_options.From, to, now), message, ct).ConfigureAwait(false);
            _logger.LogInformation("Alert mail queued as {QueueId}: {Subject}", id, subject);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Spool full or failing: the mail state is unchanged, so the next round tries again.
            _logger.LogError("Alert mail not queued ({Subject}): {Reason}", subject, e.Message);
            return false;
        }
    }

    private DateTimeOffset NextDigestAfter(DateTimeOffset now)
    {
        var zone = _time.LocalTimeZone;
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var at = local.Date + _options.Digest!.At.ToTimeSpan();
        var candidate = new DateTimeOffset(at, zone.GetUtcOffset(at));
        return candidate > now ? candidate : candidate.AddDays(1);
    }
}
