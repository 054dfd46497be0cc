using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeMail.Smtp.Client;

/// <summary>One SMTP connection to an upstream (RFC 5321 client side): greeting, EHLO (HELO fallback), STARTTLS,
/// AUTH, then any number of transactions (RSET between), then QUIT. Not thread-safe: one caller at a time.
/// After any <see cref="SmtpClientException"/> the session is dead; dispose it and connect again.</summary>
public sealed class SmtpClientSession : IAsyncDisposable
{
    /// <summary>RFC 5321 §4.5.3.1.3 bounds a path at 256 octets; we are lenient but still bounded.</summary>
    internal const int MaxAddressBytes = 998;

    /// <summary>RCPT commands per pipelined group (Postfix's smtp client writes in similar bounded batches).</summary>
    internal const int MaxPipelinedRecipients = 100;

    private readonly SmtpConnection _conn;
    private readonly SmtpClientOptions _options;
    private readonly int _chunk;     // bytes of message read per block; the write buffer holds 3 × chunk
    private bool _transactionOpen;   // MAIL was accepted and the transaction not finished: RSET before the next
    private bool _dead;

    private SmtpClientSession(SmtpConnection conn, SmtpClientOptions options, int chunk)
    {
        _conn = conn;
        _options = options;
        _chunk = chunk;
    }

    public string RemoteHost => _conn.RemoteHost;

    public SmtpCapabilities Capabilities { get; private set; } = SmtpCapabilities.Empty;

    public bool IsEncrypted => _conn.IsTls;

    public bool IsAuthenticated { get; private set; }

    public static async Task<SmtpClientSession> ConnectAsync(string host, int port, TlsMode tls, SmtpClientOptions options, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(options);
        string remote = (host.Contains(':') ? $"[{host}]" : host) + ":" + Port(port);
        var verifier = Validate(options);
        var socket = await OpenSocketAsync(host, null, port, remote, options.ConnectTimeout, ct);
        return await StartAsync(new NetworkStream(socket, ownsSocket: true), host, remote, tls, options, verifier, ct);
    }

    /// <summary>Connects to an address already resolved (an MX host's A/AAAA record) while TLS still uses the
    /// host name for SNI and certificate verification; logs read "mx.example[192.0.2.1]:25" as Postfix's do.</summary>
    public static async Task<SmtpClientSession> ConnectAsync(string host, IPAddress address, int port, TlsMode tls, SmtpClientOptions options, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        string remote = $"{host}[{address}]:{Port(port)}";
        var verifier = Validate(options);
        var socket = await OpenSocketAsync(host, address, port, remote, options.ConnectTimeout, ct);
        return await StartAsync(new NetworkStream(socket, ownsSocket: true), host, remote, tls, options, verifier, ct);
    }

    /// <summary>Configuration errors surface before any connection is made.</summary>
    private static CertificateVerifier Validate(SmtpClientOptions options)
    {
        // The name goes on the EHLO line as is (RFC 5321 §4.1.1.1): nothing that could end or extend that line.
        if (string.IsNullOrEmpty(options.HeloName) || options.HeloName.Any(c => c <= ' ' || c == 0x7f))
            throw new ArgumentException($"HELO name '{options.HeloName}' is empty or contains spaces or control characters", nameof(options));
        return new CertificateVerifier(options);   // reads the CA file, checks the pin
    }

    private static string Port(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>For tests and for callers with their own transport: runs the session over an already connected
    /// stream (greeting, EHLO, TLS as <paramref name="tls"/> says, AUTH).</summary>
    internal static Task<SmtpClientSession> ConnectAsync(Stream connected, string host, TlsMode tls, SmtpClientOptions options, CancellationToken ct) =>
        StartAsync(connected, host, host, tls, options, Validate(options), ct);

    private static async Task<Socket> OpenSocketAsync(string host, IPAddress? address, int port, string remote, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        IPAddress[] addresses;
        try
        {
            addresses = address is not null ? [address]
                : IPAddress.TryParse(host, out var literal) ? [literal]
                : await Dns.GetHostAddressesAsync(host, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw SmtpTrouble.ConnectTimeout(remote, timeout);
        }
        catch (SocketException ex)
        {
            throw SmtpTrouble.Connect(remote, ex);
        }
        if (addresses.Length == 0)
            throw SmtpTrouble.Connect(remote, new SocketException((int)SocketError.HostNotFound));

        Exception? last = null;
        foreach (var candidate in addresses)
        {
            var socket = new Socket(candidate.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(candidate, port), cts.Token);
                return socket;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                socket.Dispose();
                throw SmtpTrouble.ConnectTimeout(remote, timeout);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw SmtpTrouble.Connect(remote, last!);
    }

    private static async Task<SmtpClientSession> StartAsync(Stream stream, string tlsHost, string remote, TlsMode tls,
        SmtpClientOptions options, CertificateVerifier verifier, CancellationToken ct)
    {
        int chunk = Math.Max(options.BufferSize, 16);
        var conn = new SmtpConnection(stream, remote, readBufferSize: Math.Max(options.BufferSize, 600), writeBufferSize: Math.Max(3 * chunk, 8192));
        var session = new SmtpClientSession(conn, options, chunk);
        try
        {
            if (tls == TlsMode.Implicit)
                conn.UpgradeTo(await SmtpTls.AuthenticateAsync(stream, tlsHost, remote, verifier, options.GreetingTimeout, ct));

            SmtpTrouble.CheckGreeting(await conn.ReadReplyAsync(options.GreetingTimeout, "greeting", ct), remote);
            await session.HelloAsync(ct);

            if (tls is TlsMode.Opportunistic or TlsMode.StartTlsRequired && !conn.IsTls)
            {
                if (session.Capabilities.Has(SmtpExtensions.StartTls))
                {
                    var reply = await session.CommandAsync("STARTTLS", options.MailTimeout, "STARTTLS", ct);
                    SmtpTrouble.ThrowIfClosing(reply, remote, "STARTTLS");
                    if (reply.Code == 220)
                    {
                        conn.UpgradeTo(await SmtpTls.AuthenticateAsync(conn.Transport, tlsHost, remote, verifier, options.MailTimeout, ct));
                        // RFC 3207 §4.2: forget everything learnt before TLS and ask again.
                        await session.HelloAsync(ct);
                    }
                    else if (tls == TlsMode.StartTlsRequired)
                        throw SmtpTrouble.StartTlsRefused(remote, reply);
                    // Opportunistic: a refused STARTTLS leaves the session in plain text (RFC 3207 §4).
                }
                else if (tls == TlsMode.StartTlsRequired)
                    throw SmtpTrouble.StartTlsNotOffered(remote);
            }

            if (options.Credentials is not null)
            {
                await SmtpAuthenticator.AuthenticateAsync(conn, session.Capabilities, options, ct);
                session.IsAuthenticated = true;
            }
            return session;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    private async Task HelloAsync(CancellationToken ct)
    {
        var lines = new List<byte[]>();
        var reply = await CommandAsync("EHLO " + _options.HeloName, _options.MailTimeout, "EHLO", ct, lines);
        if (SmtpTrouble.ShouldFallBackToHelo(reply))
        {
            reply = await CommandAsync("HELO " + _options.HeloName, _options.MailTimeout, "HELO", ct);
            SmtpTrouble.CheckHello(reply, RemoteHost, "HELO");
            Capabilities = SmtpCapabilities.Empty;
            return;
        }
        SmtpTrouble.CheckHello(reply, RemoteHost, "EHLO");
        Capabilities = SmtpCapabilities.FromEhloLines(lines.Skip(1));   // the first line is the server's greeting text
    }

    private async Task<SmtpReply> CommandAsync(string command, TimeSpan timeout, string stage, CancellationToken ct, List<byte[]>? lines = null)
    {
        _conn.AppendLine(command);
        await _conn.FlushAsync(timeout, stage, ct);
        return await _conn.ReadReplyAsync(timeout, stage, ct, lines);
    }

    /// <summary>One transaction: MAIL, RCPT for each recipient, DATA with the message streamed from
    /// <paramref name="message"/> (read to its end; <paramref name="size"/> is what SIZE= declares).
    /// Per-recipient outcomes come back in the result, in the order given; only a failure of the connection
    /// itself throws (<see cref="SmtpClientException"/>).</summary>
    public async Task<SmtpDeliveryResult> SendAsync(string sender, IReadOnlyList<string> recipients, Stream message, long size,
        bool eightBit, bool smtpUtf8, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(recipients);
        ArgumentNullException.ThrowIfNull(message);
        if (recipients.Count == 0) throw new ArgumentException("at least one recipient", nameof(recipients));
        if (_dead) throw SmtpTrouble.Unusable(RemoteHost);

        try
        {
            return await TransactionAsync(sender, recipients, message, size, eightBit, smtpUtf8, ct);
        }
        catch
        {
            // Whatever broke (the upstream, a timeout, reading the spool file), the connection is now at an
            // unknown point of the protocol and cannot carry another message.
            _dead = true;
            throw;
        }
    }

    private async Task<SmtpDeliveryResult> TransactionAsync(string sender, IReadOnlyList<string> recipients, Stream message, long size,
        bool eightBit, bool smtpUtf8, CancellationToken ct)
    {
        var results = new RecipientResult?[recipients.Count];

        // Refusals decided here, before anything is sent (classified in SmtpTrouble).
        bool addressesNeedUtf8 = !Ascii.IsValid(sender) || recipients.Any(r => !Ascii.IsValid(r));
        SmtpReply? refusal = null;
        if (!IsUsableAddress(sender)) refusal = SmtpTrouble.BadAddress(sender: true);
        else if (Capabilities.MaxSize is { } max && size > max) refusal = SmtpTrouble.MessageTooBig(size, max);
        else if ((smtpUtf8 || addressesNeedUtf8) && !Capabilities.Has(SmtpExtensions.SmtpUtf8)) refusal = SmtpTrouble.SmtpUtf8NotOffered(addressesNeedUtf8);
        else if (eightBit && !Capabilities.Has(SmtpExtensions.EightBitMime)) refusal = SmtpTrouble.EightBitNotOffered();
        if (refusal is not null)
            return new SmtpDeliveryResult(recipients.Select(r => new RecipientResult(r, DeliveryClass.Failed, refusal)).ToArray(), refusal);

        var toSend = new List<int>(recipients.Count);
        for (int i = 0; i < recipients.Count; i++)
        {
            if (IsUsableAddress(recipients[i]) && recipients[i].Length > 0) toSend.Add(i);
            else results[i] = new RecipientResult(recipients[i], DeliveryClass.Failed, SmtpTrouble.BadAddress(sender: false));
        }
        if (toSend.Count == 0)
            return new SmtpDeliveryResult(results!, null);

        if (_transactionOpen)
            await ResetAsync(ct);

        var mail = new StringBuilder("MAIL FROM:<").Append(sender).Append('>');
        if (Capabilities.Has(SmtpExtensions.Size)) mail.Append(" SIZE=").Append(size);
        if (eightBit) mail.Append(" BODY=8BITMIME");
        if (smtpUtf8 || addressesNeedUtf8) mail.Append(" SMTPUTF8");

        SmtpReply? mailReply = null;
        var rcptReplies = new SmtpReply?[toSend.Count];
        if (Capabilities.Has(SmtpExtensions.Pipelining))
        {
            // RFC 2920 §3.1: MAIL and the RCPTs go out together; then every reply is read, in order, before
            // anything is decided. A very long recipient list goes in groups, each group's replies read before
            // the next is written, so neither side can block writing while the other is not reading (§3.1's
            // deadlock warning).
            _conn.AppendLine(mail.ToString());
            int k = 0;
            while (k < toSend.Count)
            {
                int groupStart = k;
                while (k < toSend.Count && k - groupStart < MaxPipelinedRecipients && _conn.TryAppendLine(Rcpt(recipients[toSend[k]])))
                    k++;
                await _conn.FlushAsync(_options.RcptTimeout, "RCPT TO", ct);
                mailReply ??= await _conn.ReadReplyAsync(_options.MailTimeout, "MAIL FROM", ct);
                for (int j = groupStart; j < k; j++)
                    rcptReplies[j] = await _conn.ReadReplyAsync(_options.RcptTimeout, "RCPT TO", ct);
                if (mailReply.Code / 100 != 2) break;   // no point sending more RCPTs for a refused MAIL
            }
        }
        else
        {
            mailReply = await CommandAsync(mail.ToString(), _options.MailTimeout, "MAIL FROM", ct);
            if (SmtpTrouble.Classify(mailReply, RemoteHost, "MAIL FROM") == Verdict.Proceed)
                for (int k = 0; k < toSend.Count; k++)
                    rcptReplies[k] = await CommandAsync(Rcpt(recipients[toSend[k]]), _options.RcptTimeout, "RCPT TO", ct);
        }

        var mailAnswer = mailReply!;   // toSend is not empty, so MAIL was sent and answered
        var mailVerdict = SmtpTrouble.Classify(mailAnswer, RemoteHost, "MAIL FROM");
        if (mailVerdict != Verdict.Proceed)
        {
            // A refused MAIL decides the message; pipelined RCPT replies (503s) are read but say nothing new,
            // except a 421, which ends the session.
            foreach (var r in rcptReplies)
                if (r is not null) SmtpTrouble.ThrowIfClosing(r, RemoteHost, "RCPT TO");
            foreach (int i in toSend)
                results[i] = new RecipientResult(recipients[i], SmtpTrouble.ToDelivery(mailVerdict), mailAnswer);
            return new SmtpDeliveryResult(results!, mailAnswer);
        }
        _transactionOpen = true;

        var accepted = new List<int>(toSend.Count);
        for (int k = 0; k < toSend.Count; k++)
        {
            int i = toSend[k];
            var verdict = SmtpTrouble.Classify(rcptReplies[k]!, RemoteHost, "RCPT TO");
            if (verdict == Verdict.Proceed) accepted.Add(i);
            else results[i] = new RecipientResult(recipients[i], SmtpTrouble.ToDelivery(verdict), rcptReplies[k]!);
        }
        if (accepted.Count == 0)
            return new SmtpDeliveryResult(results!, null);   // no DATA without a recipient (RFC 5321 §3.3)

        var dataReply = await CommandAsync("DATA", _options.DataInitTimeout, "DATA", ct);
        var dataVerdict = SmtpTrouble.Classify(dataReply, RemoteHost, "DATA", expectedClass: 3);
        if (dataVerdict != Verdict.Proceed)
            return Decide(results, recipients, accepted, dataVerdict, dataReply);

        await StreamMessageAsync(message, ct);
        var endReply = await _conn.ReadReplyAsync(_options.DataTerminationTimeout, "end of data", ct);
        var endVerdict = SmtpTrouble.Classify(endReply, RemoteHost, "end of data");
        _transactionOpen = false;   // RFC 5321 §4.1.1.4: the end of data ends the transaction, whatever the reply
        return Decide(results, recipients, accepted, endVerdict, endReply);
    }

    private static SmtpDeliveryResult Decide(RecipientResult?[] results, IReadOnlyList<string> recipients, List<int> accepted, Verdict verdict, SmtpReply reply)
    {
        var cls = SmtpTrouble.ToDelivery(verdict);
        foreach (int i in accepted)
            results[i] = new RecipientResult(recipients[i], cls, reply);
        return new SmtpDeliveryResult(results!, reply);
    }

    /// <summary>Copies the message to the server through the one fixed write buffer: each block read from the
    /// spool file goes into the buffer's last third and is dot-stuffed into its first two thirds (stuffing at
    /// most doubles it), then written. Memory does not depend on the message size.</summary>
    private async Task StreamMessageAsync(Stream message, CancellationToken ct)
    {
        var buffer = _conn.WriteBuffer;
        int inputAt = buffer.Length - _chunk;
        var stuffer = new DotStuffer();
        while (true)
        {
            int n = await message.ReadAsync(buffer.AsMemory(inputAt, _chunk), ct);
            if (n == 0) break;
            int written = stuffer.Stuff(buffer.AsSpan(inputAt, n), buffer.AsSpan(0, inputAt));
            await _conn.WriteAsync(buffer.AsMemory(0, written), _options.DataBlockTimeout, "DATA", ct);
        }
        var end = stuffer.Terminator;
        end.CopyTo(buffer);
        await _conn.WriteAsync(buffer.AsMemory(0, end.Length), _options.DataBlockTimeout, "DATA", ct);
    }

    private static string Rcpt(string address) => "RCPT TO:<" + address + ">";

    private static bool IsUsableAddress(string address)
    {
        if (Encoding.UTF8.GetByteCount(address) > MaxAddressBytes) return false;
        foreach (char c in address)
            if (c < 0x20 || c == 0x7f || c == '<' || c == '>') return false;
        return true;
    }

    /// <summary>RSET (RFC 5321 §4.1.1.5): abandons a transaction so the connection can carry the next message.</summary>
    public async Task ResetAsync(CancellationToken ct)
    {
        if (_dead) throw SmtpTrouble.Unusable(RemoteHost);
        try
        {
            SmtpTrouble.CheckReset(await CommandAsync("RSET", _options.MailTimeout, "RSET", ct), RemoteHost);
            _transactionOpen = false;
        }
        catch
        {
            _dead = true;
            throw;
        }
    }

    /// <summary>QUIT and close. Best effort: a server that has already gone away is not an error here.</summary>
    public async Task QuitAsync(CancellationToken ct)
    {
        if (!_dead)
        {
            _dead = true;
            try { await CommandAsync("QUIT", _options.MailTimeout, "QUIT", ct); }
            catch (SmtpClientException) { }
        }
        await _conn.DisposeAsync();
    }

    public ValueTask DisposeAsync()
    {
        _dead = true;
        return _conn.DisposeAsync();
    }
}
