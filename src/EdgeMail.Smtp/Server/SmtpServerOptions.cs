using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Server;

/// <summary>What the recipient policy (relay control, added with the security work) is told about one RCPT.</summary>
public readonly record struct RecipientCheck(IPEndPoint Client, string Helo, string Sender, string Recipient, string? AuthenticatedUser, bool Tls);

/// <summary>Per-RCPT decision: <see cref="SmtpReplyKind.RecipientOk"/> accepts, any other kind is the refusal to send.</summary>
public delegate SmtpReplyKind RecipientPolicy(in RecipientCheck check);

public sealed class SmtpServerOptions
{
    /// <summary>Our name in the greeting, EHLO and Received: headers.</summary>
    public string HostName { get; set; } = "localhost";
    public long MaxMessageSize { get; set; } = 25L * 1024 * 1024;
    public int MaxRecipients { get; set; } = 100;
    public int MaxConnections { get; set; } = 100;
    public int MaxConnectionsPerClient { get; set; } = 10;
    /// <summary>Error replies in a row before 421 and close (a client that only errs is a scanner or broken).</summary>
    public int MaxErrors { get; set; } = 10;
    /// <summary>Reject (554 5.6.0) messages holding a bare CR or LF, as Postfix's smtpd_forbid_bare_newline.</summary>
    public bool RejectBareLineEndings { get; set; } = true;
    /// <summary>RFC 5321 §4.5.3.1.4: 512 octets including CRLF.</summary>
    public int MaxCommandLineLength { get; set; } = 512;

    // RFC 5321 §4.5.3.2 timeouts. The server side waits for the client's next command (§4.5.3.2.7, 5 minutes);
    // during DATA it waits for the first and each further block (client-side 2 and 3 minutes) and bounds the
    // time the commit may take before the "." gets its answer (§4.5.3.2.6, 10 minutes on the client's side).
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan DataInitTimeout { get; set; } = TimeSpan.FromMinutes(2);
    public TimeSpan DataBlockTimeout { get; set; } = TimeSpan.FromMinutes(3);
    public TimeSpan DataTerminationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Per-RCPT policy hook; null accepts every syntactically valid recipient. Asked after
    /// <see cref="Policy"/> has accepted the recipient.</summary>
    public RecipientPolicy? RecipientPolicy { get; set; }

    /// <summary>Server certificate (with private key). Set: STARTTLS is offered on plain listeners and implicit-TLS
    /// listeners can run. Null: no TLS at all (STARTTLS answers 502).</summary>
    public X509Certificate2? Certificate
    {
        get => _certificate;
        set
        {
            _certificate = value;
            _tls = null;
        }
    }

    /// <summary>
    /// A certificate made or loaded on demand (the generated self-signed one), used when <see cref="Certificate"/> is
    /// null: called once, at the first TLS handshake, so a device whose clients never ask for TLS never loads OpenSSL
    /// (about 4.4 MiB of libcrypto resident). STARTTLS is offered on the strength of it. When it throws, that STARTTLS
    /// is answered 454 4.7.0 (RFC 3207 §4: TLS temporarily unavailable) and the next one calls it again.
    /// </summary>
    public Func<X509Certificate2>? CertificateSource { get; set; }

    /// <summary>How long a client may take over the TLS handshake (STARTTLS or implicit TLS).</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Users who may AUTH (RFC 4954). Null: AUTH is neither offered nor accepted (502).</summary>
    public UserStore? Users { get; set; }

    /// <summary>Who may relay and where plaintext AUTH is allowed. Null: every recipient is accepted (no relay
    /// control: only for tests and a listener on loopback) and AUTH needs TLS.</summary>
    public RelayPolicy? Policy { get; set; }

    /// <summary>Connections per address (checked by the listener at accept) and messages per minute (at MAIL).
    /// Null: only <see cref="MaxConnections"/> and <see cref="MaxConnectionsPerClient"/> apply.</summary>
    public RateLimiter? Limits { get; set; }

    /// <summary>Failed-AUTH delays and lockout per client address. Null: a default throttle private to these options.</summary>
    public AuthThrottle? Throttle { get; set; }

    private X509Certificate2? _certificate;
    private SslServerAuthenticationOptions? _tls;
    private readonly Lock _sourceGate = new();
    private AuthThrottle? _defaultThrottle;

    /// <summary>STARTTLS is offered and implicit-TLS listeners can run.</summary>
    internal bool OffersTls => _certificate is not null || CertificateSource is not null;

    /// <summary>Built once per certificate (the chain is built here, not on every handshake); null when no TLS is
    /// offered. Throws what <see cref="CertificateSource"/> throws.</summary>
    internal SslServerAuthenticationOptions? TlsOptions
    {
        get
        {
            if (_tls is { } built) return built;
            if (_certificate is null && CertificateSource is { } source)
            {
                // One caller makes the certificate (it may write a file); the others wait for it.
                lock (_sourceGate)
                    _certificate ??= source();
            }
            return _certificate is null ? null : _tls ??= TlsServerOptions.Create(_certificate);
        }
    }

    internal AuthThrottle EffectiveThrottle =>
        Throttle ?? LazyInitializer.EnsureInitialized(ref _defaultThrottle, static () => new AuthThrottle());
}
