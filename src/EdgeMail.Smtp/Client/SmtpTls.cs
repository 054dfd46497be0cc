using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeMail.Smtp.Client;

/// <summary>TLS towards an upstream: SslStream (OpenSSL on Linux, also under NativeAOT), TLS 1.2 or 1.3 only,
/// the server certificate checked by <see cref="CertificateVerifier"/>.</summary>
internal static class SmtpTls
{
    internal static async Task<SslStream> AuthenticateAsync(Stream inner, string targetHost, string remoteHost,
        CertificateVerifier verifier, TimeSpan timeout, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = verifier.Validate,
        };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cts.Token);
            return ssl;
        }
        catch (Exception ex)
        {
            await ssl.DisposeAsync();
            // The callback can only say yes or no; the reason it said no is kept and reported here.
            if (verifier.FailureReason is { } reason)
                throw SmtpTrouble.CertificateVerification(remoteHost, reason);
            if (ex is OperationCanceledException)
                throw SmtpTrouble.FromTransport(ex, remoteHost, "TLS handshake", ct);
            throw new SmtpClientException(SmtpFailureKind.Tls, remoteHost, $"TLS handshake failed: {ex.Message}", inner: ex);
        }
    }
}

/// <summary>Decides whether an upstream's certificate is acceptable and, if not, says why in words an operator
/// can act on. Order: a pinned fingerprint decides alone (an appliance pinning its upstream's self-signed cert
/// must not also need a CA); otherwise verification can be switched off; otherwise the system store, plus the
/// route's extra CA file for chain errors, and the host name must match.</summary>
internal sealed class CertificateVerifier
{
    private readonly SmtpClientOptions _options;
    private readonly byte[]? _pin;
    private readonly X509Certificate2Collection? _extraCas;

    internal CertificateVerifier(SmtpClientOptions options)
    {
        _options = options;
        _pin = options.PinnedSha256 is { } pin ? ParseFingerprint(pin) : null;
        _extraCas = options.CaFile is { } caFile ? LoadCaFile(caFile) : null;
    }

    private static X509Certificate2Collection LoadCaFile(string caFile)
    {
        var cas = new X509Certificate2Collection();
        cas.ImportFromPemFile(caFile);
        return cas.Count > 0 ? cas : throw new CryptographicException($"{caFile} contains no PEM certificate");
    }

    /// <summary>What <see cref="SmtpClientOptions.CheckCertificateSettings"/> reports: the pin's form, and whether the
    /// CA file can be read and holds a certificate.</summary>
    internal static string? Problem(SmtpClientOptions options)
    {
        if (options.PinnedSha256 is { } pin && !IsFingerprint(pin))
            return $"pinned SHA-256 fingerprint \"{pin}\" is not 64 hex digits (colons optional)";
        if (options.CaFile is not { } caFile)
            return null;
        try
        {
            foreach (X509Certificate2 cert in LoadCaFile(caFile)) cert.Dispose();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return $"CA file {caFile} cannot be used: {e.Message}";
        }
    }

    internal string? FailureReason { get; private set; }

    /// <summary>"AB:CD:..." or "abcd..." → 32 bytes; anything else is a configuration error.</summary>
    internal static byte[] ParseFingerprint(string text) => IsFingerprint(text)
        ? Convert.FromHexString(Hex(text))
        : throw new ArgumentException("a pinned SHA-256 fingerprint is 64 hex digits (colons optional)", nameof(text));

    private static bool IsFingerprint(string text)
    {
        string hex = Hex(text);
        return hex.Length == 64 && hex.All(Uri.IsHexDigit);
    }

    private static string Hex(string text) => text.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);

    internal bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        FailureReason = Check(certificate is null ? null : certificate as X509Certificate2 ?? new X509Certificate2(certificate), chain, errors);
        return FailureReason is null;
    }

    internal string? Check(X509Certificate2? cert, X509Chain? chain, SslPolicyErrors errors)
    {
        if (cert is null)
            return "RemoteCertificateNotAvailable (the server sent no certificate)";
        if (_pin is not null)
        {
            var actual = cert.GetCertHash(HashAlgorithmName.SHA256);
            return CryptographicOperations.FixedTimeEquals(actual, _pin)
                ? null
                : $"pinned fingerprint mismatch (certificate is for {cert.Subject}, SHA-256 {Convert.ToHexString(actual)})";
        }
        if (!_options.VerifyCertificate)
            return null;

        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0 && _extraCas is not null && ChainsToExtraCa(cert, chain))
            errors &= ~SslPolicyErrors.RemoteCertificateChainErrors;
        if (errors == SslPolicyErrors.None)
            return null;

        var parts = new List<string>();
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            parts.Add($"RemoteCertificateNameMismatch (certificate is for {Names(cert)})");
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            var status = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
            parts.Add($"RemoteCertificateChainErrors ({(status.Length > 0 ? status + "; " : "")}certificate {cert.Subject} issued by {cert.Issuer})");
        }
        if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
            parts.Add("RemoteCertificateNotAvailable");
        return string.Join("; ", parts);
    }

    private bool ChainsToExtraCa(X509Certificate2 cert, X509Chain? presented)
    {
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_extraCas!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));   // id-kp-serverAuth
        if (presented is not null)
        {
            // Intermediates the server sent.
            custom.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.Equals(cert)) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        return custom.Build(cert);
    }

    private static string Names(X509Certificate2 cert)
    {
        var dns = cert.GetNameInfo(X509NameType.DnsName, forIssuer: false);
        return string.IsNullOrEmpty(dns) || cert.Subject.Contains(dns, StringComparison.OrdinalIgnoreCase)
            ? cert.Subject
            : $"{cert.Subject}, DNS {dns}";
    }
}
