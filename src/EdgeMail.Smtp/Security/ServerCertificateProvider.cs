using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Smtp.Security;

/// <summary>The certificate the listener presents, with what the start-up log line needs.</summary>
public sealed record ServerCertificate(X509Certificate2 Certificate, string Sha256Fingerprint, bool SelfSigned, string Path);

/// <summary>
/// Where the TLS certificate comes from: the PEM files named in the configuration, or else a
/// self-signed ECDSA P-256 certificate generated at first start and kept in the state folder
/// (tls/selfsigned.pem, mode 0600, folder 0700), so STARTTLS works out of the box.
/// </summary>
public static class ServerCertificateProvider
{
    public const string SelfSignedDirectory = "tls";
    public const string SelfSignedFileName = "selfsigned.pem";
    public static readonly TimeSpan SelfSignedValidity = TimeSpan.FromDays(3 * 365);
    /// <summary>A stored self-signed certificate this close to expiry is replaced at start.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    /// <summary>
    /// The configured certificate when <paramref name="certificatePemPath"/> is set (key in
    /// <paramref name="keyPemPath"/>, or in the same file when null); otherwise the self-signed one.
    /// </summary>
    public static ServerCertificate Resolve(string? certificatePemPath, string? keyPemPath, string stateDirectory, string hostName,
        TimeProvider? time = null, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        var result = string.IsNullOrEmpty(certificatePemPath)
            ? LoadOrCreateSelfSigned(stateDirectory, hostName, time, logger)
            : Load(certificatePemPath, keyPemPath);
        logger.LogInformation("TLS certificate {Subject} from {Path}, SHA-256 fingerprint {Fingerprint}, valid until {NotAfter:u}",
            result.Certificate.Subject, result.Path, result.Sha256Fingerprint, result.Certificate.NotAfter.ToUniversalTime());
        return result;
    }

    public static ServerCertificate Load(string certificatePemPath, string? keyPemPath)
    {
        X509Certificate2 cert;
        try
        {
            cert = X509Certificate2.CreateFromPemFile(certificatePemPath, keyPemPath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new CryptographicException($"cannot load the TLS certificate from {certificatePemPath}" +
                (keyPemPath is null ? "" : $" and key {keyPemPath}") + $": {e.Message}", e);
        }
        if (!cert.HasPrivateKey) throw new CryptographicException($"{certificatePemPath}: the certificate has no private key");
        return new ServerCertificate(ForSslStream(cert), Sha256Fingerprint(cert), false, Path.GetFullPath(certificatePemPath));
    }

    /// <summary>Where the self-signed certificate is kept under <paramref name="stateDirectory"/>.</summary>
    public static string SelfSignedPath(string stateDirectory) =>
        System.IO.Path.Combine(stateDirectory, SelfSignedDirectory, SelfSignedFileName);

    /// <summary>Creates (or tightens to 0700) the self-signed certificate's folder without touching the certificate:
    /// a daemon that makes it on demand finds an unwritable state folder at start-up, not at a client's STARTTLS.</summary>
    public static void PrepareSelfSigned(string stateDirectory) =>
        SecureFile.EnsurePrivateDirectory(System.IO.Path.Combine(stateDirectory, SelfSignedDirectory));

    public static ServerCertificate LoadOrCreateSelfSigned(string stateDirectory, string hostName, TimeProvider? time = null, ILogger? logger = null)
    {
        time ??= TimeProvider.System;
        logger ??= NullLogger.Instance;
        string dir = System.IO.Path.Combine(stateDirectory, SelfSignedDirectory);
        string path = SelfSignedPath(stateDirectory);
        SecureFile.EnsurePrivateDirectory(dir);
        var now = time.GetUtcNow();

        if (File.Exists(path))
        {
            string? why = null;
            try
            {
                // Tighten a loosened mode rather than refuse to start: the file is ours.
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, SecureFile.OwnerOnlyFile);
                var existing = X509Certificate2.CreateFromPemFile(path);
                if (!existing.HasPrivateKey) why = "it has no private key";
                else if (existing.NotAfter.ToUniversalTime() - RenewBefore <= now.UtcDateTime) why = "it expires soon";
                else if (existing.NotBefore.ToUniversalTime() > now.UtcDateTime) why = "it is not yet valid";
                else if (!existing.MatchesHostname(hostName, allowWildcards: false, allowCommonName: false)) why = $"it is not for {hostName}";
                if (why is null) return new ServerCertificate(ForSslStream(existing), Sha256Fingerprint(existing), true, path);
                existing.Dispose();
            }
            catch (CryptographicException e)
            {
                why = "it is unreadable: " + e.Message;
            }
            logger.LogWarning("replacing the self-signed TLS certificate {Path}: {Reason}", path, why);
        }

        var created = CreateSelfSigned(hostName, now);
        var pem = new StringBuilder();
        pem.Append(created.ExportCertificatePem()).Append('\n');
        using (var key = created.GetECDsaPrivateKey()!)
            pem.Append(key.ExportPkcs8PrivateKeyPem()).Append('\n');
        byte[] bytes = Encoding.ASCII.GetBytes(pem.ToString());
        SecureFile.WriteAtomic(path, bytes);
        CryptographicOperations.ZeroMemory(bytes);
        logger.LogInformation("generated a self-signed TLS certificate for {Host} in {Path}", hostName, path);
        var reloaded = X509Certificate2.CreateFromPemFile(path);
        return new ServerCertificate(ForSslStream(reloaded), Sha256Fingerprint(reloaded), true, path);
    }

    /// <summary>"AB:CD:…" over the DER certificate, as `openssl x509 -fingerprint -sha256` prints it.</summary>
    public static string Sha256Fingerprint(X509Certificate2 certificate) =>
        Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)).Chunk(2).Aggregate(new StringBuilder(),
            (sb, pair) => (sb.Length > 0 ? sb.Append(':') : sb).Append(pair)).ToString();

    internal static X509Certificate2 CreateSelfSigned(string hostName, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(hostName)) throw new ArgumentException("a host name is needed for the certificate", nameof(hostName));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + EscapeRdn(hostName)), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (IPAddress.TryParse(hostName, out var ip)) san.AddIpAddress(ip); else san.AddDnsName(hostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        // Back-date by an hour: a client whose clock is a little behind should not see "not yet valid".
        return request.CreateSelfSigned(now.AddHours(-1), now + SelfSignedValidity);
    }

    /// <summary>
    /// A certificate loaded from PEM carries an ephemeral key. With OpenSSL (Linux, and NativeAOT,
    /// which uses the same System.Security.Cryptography.Native shim) SslStream accepts it as is —
    /// the handshake tests prove that. Windows SChannel does not, so there it is round-tripped
    /// through PKCS#12 to get a persisted key handle.
    /// </summary>
    private static X509Certificate2 ForSslStream(X509Certificate2 cert)
    {
        if (!OperatingSystem.IsWindows()) return cert;
        byte[] pfx = cert.Export(X509ContentType.Pkcs12);
        try { return X509CertificateLoader.LoadPkcs12(pfx, null); }
        finally { CryptographicOperations.ZeroMemory(pfx); }
    }

    private static string EscapeRdn(string value)
    {
        var sb = new StringBuilder();
        foreach (char c in value)
        {
            if (c is ',' or '+' or '"' or '\\' or '<' or '>' or ';' or '=') sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }
}
