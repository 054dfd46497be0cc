namespace EdgeMail.Smtp.Client;

/// <summary>What the client may authenticate with (RFC 4954). Secrets are never part of ToString or any message.</summary>
public abstract class SmtpCredentials
{
    private protected SmtpCredentials(string user)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        User = user;
    }

    public string User { get; }

    public sealed override string ToString() => $"{GetType().Name}({User})";
}

/// <summary>User and password: AUTH PLAIN or LOGIN inside TLS, CRAM-MD5 otherwise (see <see cref="SaslMechanisms"/>).</summary>
public sealed class PasswordCredentials : SmtpCredentials
{
    public PasswordCredentials(string user, string password) : base(user)
    {
        ArgumentNullException.ThrowIfNull(password);
        Password = password;
    }

    public string Password { get; }
}

/// <summary>AUTH XOAUTH2 (Gmail, Microsoft 365): the token is fetched for every authentication, so a
/// <see cref="OAuth2TokenSource"/> can renew it behind this delegate.</summary>
public sealed class OAuth2Credentials : SmtpCredentials
{
    public OAuth2Credentials(string user, Func<CancellationToken, ValueTask<string>> accessToken) : base(user)
    {
        ArgumentNullException.ThrowIfNull(accessToken);
        AccessToken = accessToken;
    }

    public Func<CancellationToken, ValueTask<string>> AccessToken { get; }

    /// <summary>Called when the server refuses the token (e.g. <see cref="OAuth2TokenSource.Invalidate"/>), so the
    /// next attempt fetches a fresh one instead of retrying a revoked or expired token until it times out.</summary>
    public Action? OnTokenRejected { get; init; }
}
