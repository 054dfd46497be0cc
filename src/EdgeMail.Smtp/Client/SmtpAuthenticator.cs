using System.Security.Cryptography;
using System.Text;

namespace EdgeMail.Smtp.Client;

/// <summary>RFC 4954 AUTH with the mechanisms upstreams actually offer. Which one: XOAUTH2 for OAuth2 credentials;
/// for a password, PLAIN (then LOGIN, then CRAM-MD5) inside TLS, and only CRAM-MD5 over plain text, since it
/// proves the password without sending it. A password or token is never sent in the clear unless the route
/// explicitly allows it. No secret ever appears in an exception message.</summary>
internal static class SmtpAuthenticator
{
    internal static SaslMechanisms Choose(SmtpCredentials credentials, SaslMechanisms offered, bool encrypted, bool allowPlaintext)
    {
        bool protectedChannel = encrypted || allowPlaintext;
        if (credentials is OAuth2Credentials)
            return protectedChannel && offered.HasFlag(SaslMechanisms.XOAuth2) ? SaslMechanisms.XOAuth2 : SaslMechanisms.None;
        if (protectedChannel)
        {
            if (offered.HasFlag(SaslMechanisms.Plain)) return SaslMechanisms.Plain;
            if (offered.HasFlag(SaslMechanisms.Login)) return SaslMechanisms.Login;
        }
        return offered.HasFlag(SaslMechanisms.CramMd5) ? SaslMechanisms.CramMd5 : SaslMechanisms.None;
    }

    internal static async Task AuthenticateAsync(SmtpConnection conn, SmtpCapabilities caps, SmtpClientOptions options, CancellationToken ct)
    {
        var credentials = options.Credentials!;
        var host = conn.RemoteHost;
        if (!caps.Has(SmtpExtensions.Auth))
            throw SmtpTrouble.Auth(host, "credentials are configured but the server does not offer AUTH");
        var mechanism = Choose(credentials, caps.AuthMechanisms, conn.IsTls, options.AllowPlaintextAuth);
        if (mechanism == SaslMechanisms.None)
            throw SmtpTrouble.Auth(host, $"no usable mechanism (server offers {caps.AuthMechanisms}; " +
                (credentials is OAuth2Credentials ? "XOAUTH2 needed" : "PLAIN/LOGIN only inside TLS, CRAM-MD5 anywhere") +
                (conn.IsTls ? ")" : "; the connection is not encrypted)"));

        var timeout = options.MailTimeout;
        SmtpReply reply;
        switch (mechanism)
        {
            case SaslMechanisms.Plain:
            {
                var pw = (PasswordCredentials)credentials;
                // RFC 4616 §2: authzid NUL authcid NUL passwd, sent as the initial response (RFC 4954 §4).
                reply = await CommandAsync(conn, "AUTH PLAIN " + Base64("\0" + pw.User + "\0" + pw.Password), timeout, ct);
                break;
            }
            case SaslMechanisms.Login:
            {
                var pw = (PasswordCredentials)credentials;
                reply = await CommandAsync(conn, "AUTH LOGIN", timeout, ct);
                if (reply.Code == 334) reply = await CommandAsync(conn, Base64(pw.User), timeout, ct);
                if (reply.Code == 334) reply = await CommandAsync(conn, Base64(pw.Password), timeout, ct);
                break;
            }
            case SaslMechanisms.CramMd5:
            {
                var pw = (PasswordCredentials)credentials;
                reply = await CommandAsync(conn, "AUTH CRAM-MD5", timeout, ct);
                if (reply.Code == 334)
                {
                    byte[] challenge;
                    try { challenge = Convert.FromBase64String(reply.Text.Trim()); }
                    catch (FormatException)
                    {
                        await CancelAsync(conn, timeout, ct);
                        throw SmtpTrouble.Auth(host, "CRAM-MD5 challenge is not base64");
                    }
                    reply = await CommandAsync(conn, Base64(CramMd5Response(pw.User, pw.Password, challenge)), timeout, ct);
                }
                break;
            }
            default:
            {
                var oauth = (OAuth2Credentials)credentials;
                string token;
                try { token = await oauth.AccessToken(ct); }
                catch (Exception ex) when (ex is not OperationCanceledException and not SmtpClientException)
                {
                    throw new SmtpClientException(SmtpFailureKind.AuthFailed, host, $"cannot obtain an OAuth2 access token: {ex.Message}", inner: ex);
                }
                reply = await CommandAsync(conn, "AUTH XOAUTH2 " + Base64(XOAuth2InitialResponse(oauth.User, token)), timeout, ct);
                if (reply.Code == 334)
                {
                    // Google/Microsoft send a base64 JSON error as a challenge; the client answers with an empty
                    // line and the server then sends the final 535.
                    reply = await CommandAsync(conn, "", timeout, ct);
                }
                if (reply.Code is >= 500 and < 600 or 334) oauth.OnTokenRejected?.Invoke();
                break;
            }
        }

        SmtpTrouble.ThrowIfClosing(reply, host, "AUTH");
        if (reply.Code == 334)
        {
            // More challenges than the mechanism has: cancel the exchange (RFC 4954 §4, "*").
            await CancelAsync(conn, timeout, ct);
            throw SmtpTrouble.Auth(host, $"unexpected challenge in AUTH {mechanism}");
        }
        if (reply.Code != 235)
            throw SmtpTrouble.Auth(host, $"AUTH {mechanism} refused", reply);
    }

    /// <summary>RFC 2195 §2: user SP lowercase-hex(HMAC-MD5(key = password, challenge)).</summary>
    internal static string CramMd5Response(string user, string password, byte[] challenge)
    {
        var digest = HMACMD5.HashData(Encoding.UTF8.GetBytes(password), challenge);
        return user + " " + Convert.ToHexStringLower(digest);
    }

    /// <summary>Google's XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A.</summary>
    internal static string XOAuth2InitialResponse(string user, string token) =>
        "user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001";

    private static string Base64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static async Task<SmtpReply> CommandAsync(SmtpConnection conn, string line, TimeSpan timeout, CancellationToken ct)
    {
        conn.AppendLine(line);
        await conn.FlushAsync(timeout, "AUTH", ct, wipe: true);
        return await conn.ReadReplyAsync(timeout, "AUTH", ct);
    }

    private static async Task CancelAsync(SmtpConnection conn, TimeSpan timeout, CancellationToken ct)
    {
        conn.AppendLine("*");
        await conn.FlushAsync(timeout, "AUTH", ct);
        await conn.ReadReplyAsync(timeout, "AUTH", ct);
    }
}
