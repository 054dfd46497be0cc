using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Security;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Smtp.Server;

/// <summary>
/// One SMTP server conversation (RFC 5321) over any duplex stream.
///
/// Memory: one fixed input buffer and one small output buffer, rented at start and returned at close. Command lines
/// are parsed where they lie in the input buffer; DATA is dot-unstuffed in place and handed to the spool writer read
/// by read, so a 25 MiB message costs the same memory as a 25 byte one.
///
/// PIPELINING (RFC 2920): every complete command already in the input buffer is handled before reading again;
/// replies collect in the output buffer and are flushed only before the session would block on a read (which covers
/// the sync points: after DATA's 354, after the end of data, at QUIT) or when the output buffer is nearly full.
/// </summary>
public sealed class SmtpSession
{
    internal const int InputBufferSize = 16 * 1024;
    internal const int OutputBufferSize = 4 * 1024;
    // The longest single reply we ever format (EHLO lines, host name in the greeting) fits well within this.
    private const int OutputReserve = 1024;
    private static readonly byte[] CrByte = [(byte)'\r'];

    private Stream _transport;
    private readonly IPEndPoint _remote;
    private readonly SmtpServerOptions _options;
    private readonly MessageSpool _spool;
    private readonly ILogger _logger;
    private readonly string _client;
    // The client address as the limits and the relay policy see it (IPv4-mapped IPv6 folded to IPv4).
    private readonly IPAddress _address;
    private readonly bool _implicitTls;

    private byte[] _in = [];
    private int _start;
    private int _end;
    private byte[] _out = [];
    private int _outLength;
    private bool _skippingLongLine;

    private SmtpSessionState _state;
    private string _helo = "";
    private bool _esmtp;
    private bool _close;
    private int _errorsInARow;
    private string _disconnectReason = "client closed";
    private List<string> _ehloKeywords = [];

    // The transaction (RFC 5321 §3.3), cleared by RSET, HELO/EHLO and the end of DATA.
    private string _sender = "";
    private readonly List<string> _recipients = [];
    private BodyType _body;
    private bool _smtpUtf8;
    // BDAT (RFC 3030) transactions span several commands.
    private SpoolWriter? _chunkWriter;
    private long _chunkSize;
    private SpoolError? _chunkFailure;

    private CancellationTokenSource _readTimer = new();
    private CancellationTokenSource _writeTimer = new();
    private CancellationToken _shutdown;

    public SmtpSession(Stream transport, IPEndPoint remote, SmtpServerOptions o, MessageSpool spool, ILogger? logger)
        : this(transport, remote, o, spool, logger, implicitTls: false)
    {
    }

    /// <param name="implicitTls">RFC 8314 §3.3 (port 465 style): the TLS handshake comes before the greeting;
    /// needs <see cref="SmtpServerOptions.Certificate"/> or <see cref="SmtpServerOptions.CertificateSource"/>.</param>
    public SmtpSession(Stream transport, IPEndPoint remote, SmtpServerOptions o, MessageSpool spool, ILogger? logger, bool implicitTls)
    {
        if (implicitTls && !o.OffersTls)
            throw new ArgumentException("An implicit-TLS session needs SmtpServerOptions.Certificate or CertificateSource.", nameof(implicitTls));
        _implicitTls = implicitTls;
        _address = NetworkList.Normalize(remote.Address);
        _transport = transport;
        _remote = remote;
        _options = o;
        _spool = spool;
        _logger = logger ?? NullLogger.Instance;
        _client = ReceivedHeader.AddressLiteral(remote.Address) + ":" + remote.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        RebuildEhloKeywords();
    }

    public SmtpSessionState State => _state;

    /// <summary>Set by STARTTLS once the handshake is done; changes the EHLO list and the Received: protocol.</summary>
    internal bool IsTls { get; private set; }

    /// <summary>Set by AUTH on success (RFC 4954); recorded in the envelope and the Received: protocol.</summary>
    internal string? AuthenticatedUser { get; set; }

    /// <summary>
    /// STARTTLS seam (RFC 3207 §4.2): swap the transport for the TLS stream. Whatever the client pipelined after
    /// STARTTLS is discarded (it arrived in clear text and could be an injection), and the session forgets the
    /// HELO and any transaction: the client must EHLO again.
    /// </summary>
    internal void ReplaceTransport(Stream secured, bool tls)
    {
        _transport = secured;
        _start = _end = 0;
        _skippingLongLine = false;
        IsTls = tls;
        ResetTransaction();
        // RFC 3207 §4.2: nothing learned before the handshake survives it, an AUTH identity included.
        AuthenticatedUser = null;
        _helo = "";
        _esmtp = false;
        _state = SmtpSessionState.Connected;
        RebuildEhloKeywords();
    }

    /// <summary>The EHLO keyword list: built here and only here (RFC 5321 §4.1.1.1; each extension's RFC names its keyword).</summary>
    internal void RebuildEhloKeywords()
    {
        var list = new List<string>(8)
        {
            "PIPELINING",                                                                        // RFC 2920
            "SIZE " + _options.MaxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), // RFC 1870
            "8BITMIME",                                                                          // RFC 6152
            "ENHANCEDSTATUSCODES",                                                               // RFC 2034
            "SMTPUTF8",                                                                          // RFC 6531
            "CHUNKING",                                                                          // RFC 3030
        };
        // RFC 3207 §4: offered only while there is something to upgrade.
        if (_options.OffersTls && !IsTls)
            list.Add("STARTTLS");
        // RFC 4954 §4 and §14: a password is never invited over plaintext, unless the client's network is one
        // where plaintext AUTH was explicitly allowed (old appliances).
        if (_options.Users is not null && AuthPermission == AuthPermission.Allowed)
            list.Add("AUTH " + SaslExchange.Advertised);
        _ehloKeywords = list;
    }

    internal IReadOnlyList<string> EhloKeywords => _ehloKeywords;

    private AuthPermission AuthPermission =>
        _options.Policy?.MayAuthenticate(_address, IsTls) ?? (IsTls ? AuthPermission.Allowed : AuthPermission.EncryptionRequired);

    public async Task RunAsync(CancellationToken ct)
    {
        _shutdown = ct;
        _in = ArrayPool<byte>.Shared.Rent(InputBufferSize);
        _out = ArrayPool<byte>.Shared.Rent(OutputBufferSize);
        using var onShutdown = ct.Register(static s => ((SmtpSession)s!).CancelRead(), this);
        SmtpLog.Connect(_logger, _client);
        try
        {
            if (_implicitTls && !await ImplicitTlsAsync().ConfigureAwait(false))
                return;
            if (ct.IsCancellationRequested)
            {
                Reply(SmtpReplyKind.ShuttingDown);
                _disconnectReason = "shutting down";
            }
            else
            {
                Reply(SmtpReplyKind.Greeting, _options.HostName);
                await CommandLoopAsync().ConfigureAwait(false);
            }
            await FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            _disconnectReason = "connection lost";
        }
        catch (Exception e)
        {
            // A bug or an unexpected spool failure ends this one session, never the listener; nothing was
            // acknowledged that is not committed, so the client simply retries.
            SmtpLog.SessionFailed(_logger, _client, e.GetType().Name, e.Message);
            _disconnectReason = "internal error";
        }
        finally
        {
            _chunkWriter?.Abort();
            SmtpLog.Disconnect(_logger, _client, _disconnectReason);
            try
            {
                await _transport.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
            }
            ArrayPool<byte>.Shared.Return(_in);
            ArrayPool<byte>.Shared.Return(_out);
            _in = _out = [];
            _readTimer.Dispose();
            _writeTimer.Dispose();
        }
    }

    /// <summary>RFC 8314 §3.3: the handshake before anything else; false (reason recorded) when it failed.</summary>
    private async ValueTask<bool> ImplicitTlsAsync()
    {
        try
        {
            var ssl = await StartTls.HandshakeAsync(_transport, _options.TlsOptions!, _options.TlsHandshakeTimeout, _shutdown).ConfigureAwait(false);
            _transport = ssl;
            IsTls = true;
            RebuildEhloKeywords();
            SmtpLog.TlsStarted(_logger, _client, ssl.SslProtocol.ToString(), ssl.NegotiatedCipherSuite.ToString());
            return true;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or System.Net.Sockets.SocketException
                                   or ObjectDisposedException or CryptographicException or UnauthorizedAccessException)
        {
            SmtpLog.TlsFailed(_logger, _client, e.GetType().Name, e.Message);
            _disconnectReason = "TLS handshake failed";
            return false;
        }
    }

    /// <summary>RFC 3207 §4: 220, then the handshake on the raw transport. Bytes the client sent after the
    /// STARTTLS line arrived in clear text where anyone on the path could have put them (CVE-2011-0411): they are
    /// dropped, never executed as if they had come over TLS.</summary>
    private async ValueTask StartTlsAsync(SslServerAuthenticationOptions tls)
    {
        Reply(SmtpReplyKind.ReadyToStartTls);
        await FlushAsync().ConfigureAwait(false);
        int dropped = StartTls.DiscardPipelinedPlaintext(ref _start, ref _end);
        _skippingLongLine = false;
        if (dropped > 0)
            SmtpLog.PlaintextDiscarded(_logger, _client, dropped);
        SslStream ssl;
        try
        {
            ssl = await StartTls.HandshakeAsync(_transport, tls, _options.TlsHandshakeTimeout, _shutdown).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The transport is in an unknown state (half a handshake): nothing more can be said on it.
            SmtpLog.TlsFailed(_logger, _client, e.GetType().Name, e.Message);
            _disconnectReason = "TLS handshake failed";
            _close = true;
            return;
        }
        ReplaceTransport(ssl, tls: true);
        SmtpLog.TlsStarted(_logger, _client, ssl.SslProtocol.ToString(), ssl.NegotiatedCipherSuite.ToString());
    }

    /// <summary>The next line of an AUTH exchange (RFC 4954 §4); null when the session ended while waiting.</summary>
    private async ValueTask<(int Start, int Length, bool TooLong)?> NextLineAsync()
    {
        while (true)
        {
            var line = TakeLine(out bool tooLong);
            if (tooLong)
                return (0, 0, true);
            if (line.Length >= 0)
                return (line.Start, line.Length, false);
            if (!await FillAsync(_options.CommandTimeout).ConfigureAwait(false))
            {
                _close = true;
                return null;
            }
        }
    }

    /// <summary>Runs an AUTH exchange from its first step to 235, 535 (after the throttle's delay) or 421.</summary>
    private async ValueTask AuthAsync(SaslExchange exchange, AuthStep step)
    {
        while (step.Kind == AuthStepKind.Challenge)
        {
            Reply(SmtpReplyKind.AuthChallenge, step.Challenge);
            if (await NextLineAsync().ConfigureAwait(false) is not var (start, length, tooLong))
                return;
            if (tooLong)
            {
                Reply(SmtpReplyKind.AuthLineTooLong);
                return;
            }
            step = exchange.Continue(_in.AsSpan(start, length));
        }
        if (step.Kind == AuthStepKind.Failed)
        {
            Reply(step.Reply);
            return;
        }
        using var credentials = step.Credentials!;
        var throttle = _options.EffectiveThrottle;
        // RFC 4616 §2: we let nobody act as someone else, so a foreign authorization identity fails like a bad password.
        bool valid = credentials.AuthorizationIdentityAllowed && await _options.Users!.VerifyAsync(credentials, _shutdown).ConfigureAwait(false);
        if (valid)
        {
            throttle.RecordSuccess(_address);
            AuthenticatedUser = credentials.UserName;
            SmtpLog.AuthSucceeded(_logger, _client, credentials.UserName, exchange.Mechanism.ToString());
            Reply(SmtpReplyKind.AuthSucceeded);
            return;
        }
        var verdict = throttle.RecordFailure(_address);
        // The user name is logged (fail2ban needs it); the password never is.
        // A name that could never be a user (control characters, any length) is not written: no log injection.
        string loggedName = UserStore.IsValidUserName(credentials.UserName) ? credentials.UserName : "(invalid name)";
        SmtpLog.AuthFailed(_logger, _client, loggedName, exchange.Mechanism.ToString());
        await FlushAsync().ConfigureAwait(false);
        await throttle.DelayAsync(verdict, _shutdown).ConfigureAwait(false);
        Reply(verdict.Reply);
        if (verdict.Disconnect)
        {
            _disconnectReason = "too many authentication failures";
            _close = true;
        }
    }

    private void CancelRead()
    {
        try
        {
            _readTimer.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task CommandLoopAsync()
    {
        while (!_close)
        {
            if (_shutdown.IsCancellationRequested)
            {
                Reply(SmtpReplyKind.ShuttingDown);
                _disconnectReason = "shutting down";
                return;
            }
            var line = TakeLine(out bool tooLong);
            if (tooLong)
            {
                Reply(SmtpReplyKind.LineTooLong);
            }
            else if (line.Length < 0)
            {
                if (!await FillAsync(_options.CommandTimeout).ConfigureAwait(false))
                    return;
                continue;
            }
            else
            {
                await HandleCommandAsync(line).ConfigureAwait(false);
            }
            if (!_close && _errorsInARow >= _options.MaxErrors)
            {
                Reply(SmtpReplyKind.TooManyErrors);
                _disconnectReason = "too many errors";
                _close = true;
            }
            if (_outLength > OutputBufferSize - OutputReserve)
                await FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The next complete command line (without its line end) as (start, length) in the input buffer;
    /// length -1 when more input is needed. A line over the limit is skipped up to its LF (RFC 5321 §4.5.3.1.4
    /// lets us answer 500; skipping keeps the session usable and memory bounded).</summary>
    private (int Start, int Length) TakeLine(out bool tooLong)
    {
        tooLong = false;
        var pending = _in.AsSpan(_start, _end - _start);
        int lf = pending.IndexOf((byte)'\n');
        if (_skippingLongLine)
        {
            if (lf < 0)
            {
                _start = _end = 0;
                return (0, -1);
            }
            _start += lf + 1;
            _skippingLongLine = false;
            tooLong = true;
            return (0, -1);
        }
        if (lf < 0)
        {
            if (pending.Length >= _options.MaxCommandLineLength)
            {
                _skippingLongLine = true;
                _start = _end = 0;
            }
            return (0, -1);
        }
        if (lf + 1 > _options.MaxCommandLineLength)
        {
            _start += lf + 1;
            tooLong = true;
            return (0, -1);
        }
        int start = _start;
        int length = lf > 0 && pending[lf - 1] == (byte)'\r' ? lf - 1 : lf;
        _start += lf + 1;
        return (start, length);
    }

    /// <summary>Flushes pending replies, then reads more input. False when the session must end (EOF, timeout,
    /// shutdown); the 421 for a timeout or shutdown has then been queued.</summary>
    // The per-message ValueTask methods below suspend on nearly every call (a socket read, a spool write): the
    // pooling builder reuses their state machine boxes instead of allocating one per await that does not
    // complete at once. Each is awaited exactly once, right where it is called.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(TimeSpan timeout)
    {
        await FlushAsync().ConfigureAwait(false);
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_start > 0)
        {
            Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_shutdown.IsCancellationRequested || !_readTimer.TryReset())
            return Ended(shutdown: _shutdown.IsCancellationRequested);
        _readTimer.CancelAfter(timeout);
        int n;
        try
        {
            n = await _transport.ReadAsync(_in.AsMemory(_end, InputBufferSize - _end), _readTimer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return Ended(shutdown: _shutdown.IsCancellationRequested);
        }
        if (n == 0)
        {
            _disconnectReason = "client closed";
            return false;
        }
        _end += n;
        return true;
    }

    private bool Ended(bool shutdown)
    {
        Reply(shutdown ? SmtpReplyKind.ShuttingDown : SmtpReplyKind.Timeout);
        _disconnectReason = shutdown ? "shutting down" : "timeout";
        _close = true;
        return false;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync()
    {
        if (_outLength == 0)
            return;
        if (!_writeTimer.TryReset())
        {
            _writeTimer.Dispose();
            _writeTimer = new CancellationTokenSource();
        }
        _writeTimer.CancelAfter(_options.CommandTimeout);
        int length = _outLength;
        _outLength = 0;
        await _transport.WriteAsync(_out.AsMemory(0, length), _writeTimer.Token).ConfigureAwait(false);
        await _transport.FlushAsync(_writeTimer.Token).ConfigureAwait(false);
    }

    private void Reply(SmtpReplyKind kind, ReadOnlySpan<char> argument = default)
    {
        _outLength += SmtpReplies.Format(kind, argument, _out.AsSpan(_outLength));
        Count(kind);
    }

    private void Count(SmtpReplyKind kind)
    {
        if (SmtpReplies.Get(kind).IsError)
            _errorsInARow++;
        else
            _errorsInARow = 0;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleCommandAsync((int Start, int Length) at)
    {
        var line = _in.AsSpan(at.Start, at.Length);
        if (SmtpCommandParser.HasControl(line))
        {
            Reply(SmtpReplyKind.InvalidCharacter);
            return;
        }
        var verb = SmtpCommandParser.ParseVerb(line, out var argument);
        // 8-bit bytes are only legal inside MAIL/RCPT/VRFY arguments of an SMTPUTF8 transaction (RFC 6531 §3.3);
        // MAIL and RCPT check that themselves since MAIL is where SMTPUTF8 is declared.
        if (verb is not (SmtpVerb.Mail or SmtpVerb.Rcpt) && SmtpCommandParser.HasEightBit(line))
        {
            Reply(verb == SmtpVerb.Unknown ? SmtpReplyKind.UnknownCommand : SmtpReplyKind.NonAsciiWithoutSmtpUtf8);
            return;
        }
        var allowed = SmtpStateTable.Check(_state, verb);
        if (verb == SmtpVerb.Bdat)
        {
            // The chunk's bytes follow whatever we think of the command; without a size we cannot find the next
            // command, so a malformed BDAT ends the session (RFC 3030 §4 leaves the client nothing to resync on).
            if (!SmtpCommandParser.ParseBdat(argument, out long size, out bool last))
            {
                Reply(SmtpReplyKind.BdatSyntax);
                _disconnectReason = "malformed BDAT";
                _close = true;
                return;
            }
            await BdatAsync(size, last, allowed).ConfigureAwait(false);
            return;
        }
        if (allowed != SmtpReplyKind.Ok)
        {
            Reply(allowed);
            return;
        }
        switch (verb)
        {
            case SmtpVerb.Helo:
            case SmtpVerb.Ehlo:
                Hello(verb == SmtpVerb.Ehlo, argument);
                break;
            case SmtpVerb.Mail:
                Mail(argument);
                break;
            case SmtpVerb.Rcpt:
                Rcpt(argument);
                break;
            case SmtpVerb.Data:
                if (!SmtpCommandParser.Trim(argument).IsEmpty)
                    Reply(SmtpReplyKind.NoParametersAllowed);
                else
                    await DataAsync().ConfigureAwait(false);
                break;
            case SmtpVerb.Rset:
                if (!SmtpCommandParser.Trim(argument).IsEmpty)
                {
                    Reply(SmtpReplyKind.NoParametersAllowed);
                    break;
                }
                ResetTransaction();
                Reply(SmtpReplyKind.Ok);
                break;
            case SmtpVerb.Noop:
                // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
                Reply(SmtpReplyKind.Ok);
                break;
            case SmtpVerb.Quit:
                Reply(SmtpReplyKind.Closing);
                _disconnectReason = "quit";
                _close = true;
                break;
            case SmtpVerb.Help:
                Reply(HelpTopic(SmtpCommandParser.Trim(argument)));
                break;
            case SmtpVerb.Vrfy:
                Reply(SmtpCommandParser.Trim(argument).IsEmpty ? SmtpReplyKind.VrfySyntax : SmtpReplyKind.CannotVerify);
                break;
            case SmtpVerb.Expn:
                Reply(SmtpReplyKind.ExpnRefused);
                break;
            case SmtpVerb.Obsolete:
                Reply(SmtpReplyKind.Obsolete);
                break;
            case SmtpVerb.StartTls:
            {
                if (!_options.OffersTls)
                {
                    Reply(SmtpReplyKind.NotImplemented);
                    break;
                }
                if (StartTls.Check(IsTls, !SmtpCommandParser.Trim(argument).IsEmpty, tlsAvailable: true) is { } tlsRefusal)
                {
                    Reply(tlsRefusal);
                    break;
                }
                SslServerAuthenticationOptions? tls;
                try
                {
                    tls = _options.TlsOptions;
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    SmtpLog.TlsFailed(_logger, _client, "certificate", e.Message);
                    tls = null;
                }
                if (tls is null)
                {
                    Reply(SmtpReplyKind.TlsNotAvailable);
                    break;
                }
                await StartTlsAsync(tls).ConfigureAwait(false);
                break;
            }
            case SmtpVerb.Auth:
            {
                if (_options.Users is null)
                {
                    Reply(SmtpReplyKind.NotImplemented);
                    break;
                }
                // RFC 4954 §4: AUTH mechanism [initial-response]
                var authArgument = SmtpCommandParser.Trim(argument);
                int space = authArgument.IndexOf((byte)' ');
                var mechanismName = space < 0 ? authArgument : authArgument[..space];
                bool known = SaslExchange.TryParseMechanism(mechanismName, out var mechanism);
                var throttle = _options.EffectiveThrottle;
                if (AuthRules.Check(AuthenticatedUser is not null, _state > SmtpSessionState.Ready, AuthPermission, throttle.IsBlocked(_address), known) is { } authRefusal)
                {
                    Reply(authRefusal);
                    if (authRefusal == SmtpReplyKind.AuthTooManyFailures)
                    {
                        _disconnectReason = "too many authentication failures";
                        _close = true;
                    }
                    break;
                }
                var exchange = SaslExchange.Create(mechanism);
                var first = exchange.Start(space < 0 ? default : SmtpCommandParser.Trim(authArgument[(space + 1)..]));
                await AuthAsync(exchange, first).ConfigureAwait(false);
                break;
            }
            default:
                Reply(SmtpReplyKind.UnknownCommand);
                break;
        }
    }

    private static SmtpReplyKind HelpTopic(ReadOnlySpan<byte> topic)
    {
        if (topic.IsEmpty)
            return SmtpReplyKind.Help;
        return SmtpCommandParser.ParseVerb(topic, out _) switch
        {
            SmtpVerb.Helo => SmtpReplyKind.HelpHelo,
            SmtpVerb.Ehlo => SmtpReplyKind.HelpEhlo,
            SmtpVerb.Mail => SmtpReplyKind.HelpMail,
            SmtpVerb.Rcpt => SmtpReplyKind.HelpRcpt,
            SmtpVerb.Data => SmtpReplyKind.HelpData,
            SmtpVerb.Rset => SmtpReplyKind.HelpRset,
            SmtpVerb.Noop => SmtpReplyKind.HelpNoop,
            SmtpVerb.Quit => SmtpReplyKind.HelpQuit,
            SmtpVerb.Vrfy => SmtpReplyKind.HelpVrfy,
            _ => SmtpReplyKind.HelpUnknownTopic,
        };
    }

    private void Hello(bool esmtp, ReadOnlySpan<byte> argument)
    {
        var check = SmtpCommandParser.ParseHelo(argument, out string name);
        if (check != SmtpReplyKind.Ok)
        {
            Reply(check);
            return;
        }
        // RFC 5321 §4.1.4: HELO/EHLO also resets any transaction in progress.
        ResetTransaction();
        _helo = name;
        _esmtp = esmtp;
        _state = SmtpSessionState.Ready;
        if (!esmtp)
        {
            Reply(SmtpReplyKind.Helo, _options.HostName);
            return;
        }
        var keywords = _ehloKeywords;
        _outLength += SmtpReplies.FormatLine(SmtpReplyKind.Ehlo, _options.HostName, _out.AsSpan(_outLength), more: keywords.Count > 0);
        for (int i = 0; i < keywords.Count; i++)
            _outLength += SmtpReplies.FormatLine(SmtpReplyKind.Ehlo, keywords[i], _out.AsSpan(_outLength), more: i < keywords.Count - 1);
        Count(SmtpReplyKind.Ehlo);
    }

    private void Mail(ReadOnlySpan<byte> argument)
    {
        var result = SmtpCommandParser.ParseMail(argument, out string sender, out var parameters);
        if (result != SmtpReplyKind.SenderOk)
        {
            Reply(result);
            return;
        }
        // RFC 1870 §6.2: refuse a declared size at once, so the client need not send the message.
        if (parameters.Size is long size)
        {
            if (size > _options.MaxMessageSize)
            {
                SmtpLog.Rejected(_logger, _client, sender, "declared size over limit");
                Reply(SmtpReplyKind.MessageTooBig);
                return;
            }
            if (!_spool.HasRoomFor(size))
            {
                SmtpLog.Rejected(_logger, _client, sender, "declared size does not fit the spool");
                Reply(SmtpReplyKind.InsufficientStorage);
                return;
            }
        }
        // Counted only for a MAIL we would otherwise accept: syntax errors cost the client no quota.
        if (_options.Limits is { } limits && !limits.TryAcceptMessage(_address, AuthenticatedUser))
        {
            SmtpLog.Rejected(_logger, _client, sender, "message rate limit");
            Reply(SmtpReplyKind.MessageRateExceeded);
            return;
        }
        _sender = sender;
        _body = parameters.Body;
        _smtpUtf8 = parameters.SmtpUtf8;
        _state = SmtpSessionState.Mail;
        Reply(SmtpReplyKind.SenderOk);
    }

    private void Rcpt(ReadOnlySpan<byte> argument)
    {
        var result = SmtpCommandParser.ParseRcpt(argument, _smtpUtf8, out string recipient);
        if (result != SmtpReplyKind.RecipientOk)
        {
            Reply(result);
            return;
        }
        if (_recipients.Count >= _options.MaxRecipients)
        {
            Reply(SmtpReplyKind.TooManyRecipients);
            return;
        }
        // No open relay (RFC 5321 §3.6.2): the one place the relay policy is asked, once per recipient.
        // A bare "postmaster" (the parser allows no other address without a domain) is ours by definition: RFC 5321
        // §4.5.1 says it must be accepted from anyone.
        if (_options.Policy is { } relay && recipient.Contains('@'))
        {
            var decision = relay.Decide(_address, AuthenticatedUser, DomainOf(_sender), DomainOf(recipient));
            if (RelayPolicy.ReplyFor(decision) is { } relayRefusal)
            {
                SmtpLog.RecipientRefused(_logger, _client, _sender, recipient, decision.ToString());
                Reply(relayRefusal);
                return;
            }
        }
        if (_options.RecipientPolicy is { } policy)
        {
            var decision = policy(new RecipientCheck(_remote, _helo, _sender, recipient, AuthenticatedUser, IsTls));
            if (decision != SmtpReplyKind.RecipientOk)
            {
                SmtpLog.RecipientRefused(_logger, _client, _sender, recipient, decision.ToString());
                Reply(decision);
                return;
            }
        }
        _recipients.Add(recipient);
        _state = SmtpSessionState.Recipients;
        Reply(SmtpReplyKind.RecipientOk);
    }

    private static string DomainOf(string address)
    {
        int at = address.LastIndexOf('@');
        return at < 0 ? "" : address[(at + 1)..];
    }

    private void ResetTransaction()
    {
        _chunkWriter?.Abort();
        _chunkWriter = null;
        _chunkSize = 0;
        _chunkFailure = null;
        _sender = "";
        _recipients.Clear();
        _body = BodyType.SevenBit;
        _smtpUtf8 = false;
        if (_state > SmtpSessionState.Ready)
            _state = SmtpSessionState.Ready;
    }

    private string Protocol => ReceivedHeader.Protocol(_esmtp, IsTls, AuthenticatedUser is not null, _smtpUtf8);

    /// <summary>Creates the spool message for the current transaction and writes our Received: header into it.
    /// Null (with the reply queued) when the spool cannot take a message now.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(SpoolWriter Writer, SpoolError? Failure)?> StartMessageAsync()
    {
        var envelope = new Envelope
        {
            Sender = _sender,
            Recipients = _recipients.ToArray(),
            ClientAddress = (_remote.Address.IsIPv4MappedToIPv6 ? _remote.Address.MapToIPv4() : _remote.Address).ToString(),
            Helo = _helo,
            Protocol = Protocol,
            Body = _body,
            SmtpUtf8 = _smtpUtf8,
            AuthenticatedUser = AuthenticatedUser,
            Arrived = DateTimeOffset.UtcNow,
        };
        SpoolWriter writer;
        try
        {
            writer = _spool.Create(envelope);
        }
        catch (SpoolException e)
        {
            SmtpLog.SpoolFailure(_logger, _client, e.Message);
            Reply(e.Error == SpoolError.InsufficientStorage ? SmtpReplyKind.InsufficientStorage : SmtpReplyKind.LocalError);
            return null;
        }
        SpoolError? failure = null;
        try
        {
            var header = ReceivedHeader.Build(_helo, _remote.Address, _options.HostName, envelope.Protocol, writer.QueueId, envelope.Recipients, envelope.Arrived);
            await writer.WriteAsync(header).ConfigureAwait(false);
        }
        catch (SpoolException e)
        {
            failure = e.Error;
            SmtpLog.SpoolFailure(_logger, _client, e.Message);
        }
        return (writer, failure);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DataAsync()
    {
        if (await StartMessageAsync().ConfigureAwait(false) is not var (writer, failure))
            return;
        await using (writer.ConfigureAwait(false))
        {
            Reply(SmtpReplyKind.StartMailInput);
            var outcome = await ReceiveDataAsync(failure is null ? writer : null).ConfigureAwait(false);
            if (!outcome.Ended)
            {
                writer.Abort();
                return; // timeout, shutdown or connection lost: no reply to the message, nothing queued
            }
            await FinishMessageAsync(writer, outcome with { Failure = failure ?? outcome.Failure }).ConfigureAwait(false);
        }
    }

    /// <summary>Judges a completely received message: refuse it (reply, abort) or commit it and only then answer
    /// 250 with its queue ID. Either way the transaction is over.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FinishMessageAsync(SpoolWriter writer, DataOutcome outcome)
    {
        SmtpReplyKind verdict;
        string reason;
        if (outcome.BareLineEnding && _options.RejectBareLineEndings)
            (verdict, reason) = (SmtpReplyKind.BareLineEnding, "bare CR or LF in message");
        else if (outcome.TooBig)
            (verdict, reason) = (SmtpReplyKind.MessageTooBig, "message size over limit");
        else if (outcome.Failure is SpoolError error)
            (verdict, reason) = error == SpoolError.InsufficientStorage
                ? (SmtpReplyKind.InsufficientStorage, "spool full")
                : (SmtpReplyKind.LocalError, "spool write failed");
        else
            (verdict, reason) = (SmtpReplyKind.Queued, "");

        if (verdict == SmtpReplyKind.Queued)
        {
            using var commitTimer = new CancellationTokenSource(_options.DataTerminationTimeout);
            try
            {
                // Acknowledge only what is durable: 250 after CommitAsync has returned.
                await writer.CommitAsync(commitTimer.Token).ConfigureAwait(false);
            }
            catch (SpoolException e)
            {
                SmtpLog.SpoolFailure(_logger, _client, e.Message);
                (verdict, reason) = e.Error == SpoolError.InsufficientStorage
                    ? (SmtpReplyKind.InsufficientStorage, "spool full")
                    : (SmtpReplyKind.LocalError, "spool commit failed");
            }
            catch (OperationCanceledException)
            {
                (verdict, reason) = (SmtpReplyKind.LocalError, "spool commit timed out");
            }
        }
        if (verdict == SmtpReplyKind.Queued)
        {
            SmtpLog.Accepted(_logger, writer.QueueId, _client, _sender, string.Join(",", _recipients), outcome.Size);
            Reply(SmtpReplyKind.Queued, writer.QueueId);
        }
        else
        {
            writer.Abort();
            SmtpLog.Rejected(_logger, _client, _sender, reason);
            Reply(verdict);
        }
        ResetTransaction();
    }

    /// <summary>RFC 3030 BDAT: exactly <paramref name="size"/> octets follow the command, whatever we answer, so
    /// they are always read (and dropped when the command is refused) — otherwise message bytes would be taken
    /// for commands. No dot-stuffing and no terminator: the length delimits the chunk.</summary>
    private async ValueTask BdatAsync(long size, bool last, SmtpReplyKind allowed)
    {
        bool createFailed = false;
        if (allowed == SmtpReplyKind.Ok && _chunkWriter is null)
        {
            if (await StartMessageAsync().ConfigureAwait(false) is var (created, failure))
            {
                _chunkWriter = created;
                _chunkFailure = failure;
                _state = SmtpSessionState.Chunking;
            }
            else
            {
                createFailed = true; // the 451/452 for this chunk is already queued
            }
        }
        var writer = allowed == SmtpReplyKind.Ok ? _chunkWriter : null;
        long remaining = size;
        while (true)
        {
            int take = (int)Math.Min(remaining, _end - _start);
            if (take > 0)
            {
                bool keep = writer is not null && _chunkFailure is null && _chunkSize + take <= _options.MaxMessageSize;
                if (keep)
                {
                    try
                    {
                        await writer!.WriteAsync(_in.AsMemory(_start, take)).ConfigureAwait(false);
                    }
                    catch (SpoolException e)
                    {
                        _chunkFailure = e.Error;
                        SmtpLog.SpoolFailure(_logger, _client, e.Message);
                    }
                }
                if (writer is not null)
                    _chunkSize += take;
                _start += take;
                remaining -= take;
            }
            if (remaining == 0)
                break;
            if (!await FillAsync(_options.DataBlockTimeout).ConfigureAwait(false))
                return; // the transaction dies with the session (see RunAsync)
        }
        if (allowed != SmtpReplyKind.Ok)
        {
            Reply(allowed);
            return;
        }
        if (createFailed)
        {
            // The transaction is over; further chunks the client pipelined get 503 (and are skipped).
            ResetTransaction();
            return;
        }
        var outcome = new DataOutcome(true, _chunkSize, _chunkSize > _options.MaxMessageSize, false, _chunkFailure);
        if (last || outcome.TooBig || outcome.Failure is not null)
        {
            // RFC 3030 §2: after a failed chunk the client sends no more; the transaction ends here either way.
            await FinishMessageAsync(writer!, outcome).ConfigureAwait(false);
            return;
        }
        Reply(SmtpReplyKind.ChunkReceived, size.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private readonly record struct DataOutcome(bool Ended, long Size, bool TooBig, bool BareLineEnding, SpoolError? Failure);

    /// <summary>Streams the message into <paramref name="writer"/> (null: discard) until &lt;CRLF&gt;.&lt;CRLF&gt;.
    /// Past the size limit, after a bare line ending (when those are rejected) or a spool error, the bytes are
    /// still read to the real end of data so the next command is found where the client put it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DataOutcome> ReceiveDataAsync(SpoolWriter? writer)
    {
        var decoder = new DataDecoder();
        long size = 0;
        bool tooBig = false;
        SpoolError? failure = null;
        bool first = true;
        while (true)
        {
            if (_start == _end)
            {
                if (!await FillAsync(first ? _options.DataInitTimeout : _options.DataBlockTimeout).ConfigureAwait(false))
                    return default;
                first = false;
                continue;
            }
            var result = decoder.Decode(_in.AsSpan(_start, _end - _start));
            size += result.Written + (result.PrefixCr ? 1 : 0);
            if (size > _options.MaxMessageSize)
                tooBig = true;
            bool keep = writer is not null && !tooBig && failure is null && !(decoder.SawBareLineEnding && _options.RejectBareLineEndings);
            if (keep && (result.Written > 0 || result.PrefixCr))
            {
                try
                {
                    if (result.PrefixCr)
                        await writer!.WriteAsync(CrByte).ConfigureAwait(false);
                    await writer!.WriteAsync(_in.AsMemory(_start, result.Written)).ConfigureAwait(false);
                }
                catch (SpoolException e)
                {
                    failure = e.Error;
                    SmtpLog.SpoolFailure(_logger, _client, e.Message);
                }
            }
            _start += result.Consumed;
            if (result.Ended)
                return new DataOutcome(true, size, tooBig, decoder.SawBareLineEnding, failure);
        }
    }
}
