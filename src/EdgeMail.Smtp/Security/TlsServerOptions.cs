using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace EdgeMail.Smtp.Security;

/// <summary>Server-side TLS settings for both STARTTLS (RFC 3207) and implicit-TLS (RFC 8314) listeners.</summary>
public static class TlsServerOptions
{
    /// <summary>TLS 1.2 and 1.3 only (RFC 8996 retired 1.0 and 1.1).</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>
    /// Options for SslStream.AuthenticateAsServerAsync. Create once per certificate and share:
    /// the certificate context (chain) is built here, not on every handshake.
    /// </summary>
    public static SslServerAuthenticationOptions Create(X509Certificate2 certificate) => new()
    {
        // offline: a self-signed or LAN-CA certificate has no reachable AIA/OCSP; do not stall on it.
        ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true),
        EnabledSslProtocols = Protocols,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        // Renegotiation after STARTTLS serves no SMTP purpose and has a history of attacks.
        AllowRenegotiation = false,
        EncryptionPolicy = EncryptionPolicy.RequireEncryption,
    };
}
