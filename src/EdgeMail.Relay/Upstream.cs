using EdgeMail.Smtp.Client;

namespace EdgeMail.Relay;

/// <summary>A parsed upstream URL. The scheme table is the whole rule: scheme → TLS mode and default port.</summary>
internal sealed record Upstream(string Url, string Host, int Port, TlsMode Tls)
{
    private static readonly (string Scheme, TlsMode Tls, int Port)[] Schemes =
    [
        ("smtp", TlsMode.Opportunistic, 25),
        ("smtp+starttls", TlsMode.StartTlsRequired, 587),
        ("smtps", TlsMode.Implicit, 465),
    ];

    public static Upstream Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new RelayConfigException($"upstream '{url}' is not a URL like smtp://host[:port]");
        if (!string.IsNullOrEmpty(uri.UserInfo))
            // Credentials in a URL end up in process listings and logs; they belong in the secrets file.
            throw new RelayConfigException($"upstream '{uri.Scheme}://{uri.Host}' must not carry credentials in the URL; use the secrets file");
        if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0)
            throw new RelayConfigException($"upstream '{url}' has a path or query; expected scheme://host[:port]");
        foreach (var (scheme, tls, port) in Schemes)
        {
            if (string.Equals(uri.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
                return new Upstream(url, uri.IdnHost, uri.IsDefaultPort || uri.Port < 0 ? port : uri.Port, tls);
        }
        throw new RelayConfigException($"upstream '{url}': unknown scheme '{uri.Scheme}' (smtp, smtp+starttls, smtps)");
    }
}
