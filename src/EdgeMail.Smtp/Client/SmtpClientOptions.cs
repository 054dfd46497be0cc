namespace EdgeMail.Smtp.Client;

public sealed class SmtpClientOptions
{
    public string HeloName { get; init; } = Environment.MachineName;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    // RFC 5321 §4.5.3.2: the minimum per-command timeouts a client should wait. EHLO/HELO,
    // STARTTLS, AUTH, RSET and QUIT have no value of their own there; they use MailTimeout.
    public TimeSpan GreetingTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan MailTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan RcptTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan DataInitTimeout { get; init; } = TimeSpan.FromMinutes(2);
    public TimeSpan DataBlockTimeout { get; init; } = TimeSpan.FromMinutes(3);
    public TimeSpan DataTerminationTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Extra trusted CA certificate(s), PEM, for this upstream (in addition to the system store).</summary>
    public string? CaFile { get; init; }

    /// <summary>SHA-256 fingerprint of the upstream's leaf certificate (hex, colons optional). When set, a
    /// matching certificate is accepted whatever its chain or name, and any other certificate is refused.</summary>
    public string? PinnedSha256 { get; init; }

    public bool VerifyCertificate { get; init; } = true;

    /// <summary>Reads <see cref="CaFile"/> and checks <see cref="PinnedSha256"/>'s form, as every connection will:
    /// a daemon asks at start-up, so a missing CA file or a mistyped pin stops it with a clear message
    /// instead of deferring mail until someone reads the log.</summary>
    /// <returns>null when both are usable; otherwise what is wrong, naming the file or the pin.</returns>
    public string? CheckCertificateSettings() => CertificateVerifier.Problem(this);

    public SmtpCredentials? Credentials { get; init; }

    /// <summary>Off by default: a password (PLAIN/LOGIN) or bearer token (XOAUTH2) is only sent inside TLS;
    /// without TLS only CRAM-MD5, which never puts the password on the wire, is used.</summary>
    public bool AllowPlaintextAuth { get; init; }

    /// <summary>Size of the session's fixed read and write buffers (tests use tiny ones to cross boundaries).</summary>
    internal int BufferSize { get; init; } = 8192;
}
