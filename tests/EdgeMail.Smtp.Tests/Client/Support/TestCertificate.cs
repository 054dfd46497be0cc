using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeMail.Smtp.Tests.Client.Support;

/// <summary>Throwaway ECDSA server certificates for the client's TLS tests, valid from yesterday to tomorrow.</summary>
public static class TestCertificate
{
    /// <summary>A self-signed server certificate for <paramref name="cn"/> (also its DNS name), with the private key.</summary>
    public static X509Certificate2 SelfSigned(string cn, bool withLoopbackIp = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(cn);
        if (withLoopbackIp) san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
    }

    /// <summary>Writes <paramref name="cert"/> and its private key as PEM files into <paramref name="dir"/>, for a
    /// server outside the process.</summary>
    public static async Task<(string CertFile, string KeyFile)> WritePemAsync(X509Certificate2 cert, DirectoryInfo dir)
    {
        var certFile = Path.Combine(dir.FullName, "cert.pem");
        var keyFile = Path.Combine(dir.FullName, "key.pem");
        await File.WriteAllTextAsync(certFile, cert.ExportCertificatePem());
        using var key = cert.GetECDsaPrivateKey()!;
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }
}
