using EdgeMail.Smtp.Replies;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace EdgeMail.Smtp.Security;

public enum AuthMechanism { Plain, Login }

public enum AuthStepKind
{
    /// <summary>Send "334 " + <see cref="AuthStep.Challenge"/> and feed the client's next line to <see cref="SaslExchange.Continue"/>.</summary>
    Challenge,
    /// <summary>The exchange is complete: verify <see cref="AuthStep.Credentials"/> (then 235 or 535).</summary>
    Credentials,
    /// <summary>The exchange ended without credentials: send <see cref="AuthStep.Reply"/>.</summary>
    Failed,
}

/// <summary>Credentials decoded from an AUTH exchange. The password is UTF-8 bytes, zeroed on Dispose.</summary>
public sealed class AuthCredentials : IDisposable
{
    internal AuthCredentials(string authorizationId, string userName, byte[] password)
    {
        AuthorizationId = authorizationId;
        UserName = userName;
        Password = password;
    }

    /// <summary>The identity to act as; empty when the client did not ask for one.</summary>
    public string AuthorizationId { get; }
    public string UserName { get; }
    public byte[] Password { get; }

    /// <summary>
    /// RFC 4616 §2: the server decides whether the authentication identity may act as the
    /// authorization identity. We allow no proxying: only empty or identical.
    /// </summary>
    public bool AuthorizationIdentityAllowed =>
        AuthorizationId.Length == 0 || string.Equals(AuthorizationId, UserName, StringComparison.Ordinal);

    public void Dispose() => CryptographicOperations.ZeroMemory(Password);
}

public readonly struct AuthStep
{
    private AuthStep(AuthStepKind kind, string? challenge, AuthCredentials? credentials, SmtpReplyKind reply)
    {
        Kind = kind;
        Challenge = challenge;
        Credentials = credentials;
        Reply = reply;
    }

    public AuthStepKind Kind { get; }
    /// <summary>Base64 text to send after "334 " (may be empty: "334 " alone, RFC 4954 §4).</summary>
    public string? Challenge { get; }
    public AuthCredentials? Credentials { get; }
    public SmtpReplyKind Reply { get; }

    internal static AuthStep Ask(string challenge) => new(AuthStepKind.Challenge, challenge, null, default);
    internal static AuthStep Done(AuthCredentials c) => new(AuthStepKind.Credentials, null, c, default);
    internal static AuthStep Fail(SmtpReplyKind r) => new(AuthStepKind.Failed, null, null, r);
}

/// <summary>
/// Server side of one AUTH exchange (RFC 4954) for the PLAIN (RFC 4616) and LOGIN mechanisms,
/// fed raw bytes. It only decodes; verifying the credentials, throttling and the 235/535 reply
/// are the caller's (UserStore, AuthThrottle).
/// </summary>
public sealed class SaslExchange
{
    // RFC 4954 §4: "the maximum line length of 12288 octets" applies to AUTH and its responses.
    public const int MaxLineLength = 12288;
    // RFC 4616 §2: each of authzid, authcid and passwd is at most 255 octets; LOGIN gets the same bound.
    public const int MaxFieldLength = 255;

    private const string LoginUserPrompt = "VXNlcm5hbWU6"; // "Username:"
    private const string LoginPasswordPrompt = "UGFzc3dvcmQ6"; // "Password:"

    private enum State { New, AwaitPlain, AwaitLoginUser, AwaitLoginPassword, Finished }

    private State _state = State.New;
    private string? _loginUser;

    private SaslExchange(AuthMechanism mechanism) => Mechanism = mechanism;

    public AuthMechanism Mechanism { get; }

    /// <summary>Mechanism names as announced in EHLO: "AUTH PLAIN LOGIN".</summary>
    public const string Advertised = "PLAIN LOGIN";

    /// <summary>RFC 4954 §4: mechanism names are case-insensitive.</summary>
    public static bool TryParseMechanism(ReadOnlySpan<byte> name, out AuthMechanism mechanism)
    {
        if (Ascii.EqualsIgnoreCase(name, "PLAIN"u8)) { mechanism = AuthMechanism.Plain; return true; }
        if (Ascii.EqualsIgnoreCase(name, "LOGIN"u8)) { mechanism = AuthMechanism.Login; return true; }
        mechanism = default;
        return false;
    }

    public static SaslExchange Create(AuthMechanism mechanism) => new(mechanism);

    /// <summary>
    /// Starts the exchange from "AUTH mech [initial-response]". <paramref name="initialResponse"/>
    /// is the argument after the mechanism name, empty when there was none ("=" means an empty response, RFC 4954 §4).
    /// </summary>
    public AuthStep Start(ReadOnlySpan<byte> initialResponse)
    {
        if (_state != State.New) throw new InvalidOperationException("The exchange has already started.");
        bool has = !initialResponse.IsEmpty;
        switch (Mechanism)
        {
            case AuthMechanism.Plain:
                if (!has) { _state = State.AwaitPlain; return AuthStep.Ask(""); }
                return FinishPlain(initialResponse);
            default:
                if (!has) { _state = State.AwaitLoginUser; return AuthStep.Ask(LoginUserPrompt); }
                // Some clients send the user name with the command ("AUTH LOGIN dXNlcg==").
                return LoginUser(initialResponse);
        }
    }

    /// <summary>Feeds the client's response line (without CRLF) after a 334 challenge.</summary>
    public AuthStep Continue(ReadOnlySpan<byte> line)
    {
        if (line.Length > MaxLineLength) return Finish(SmtpReplyKind.AuthLineTooLong);
        // RFC 4954 §4: a lone "*" cancels; the server answers 501.
        if (line.Length == 1 && line[0] == (byte)'*') return Finish(SmtpReplyKind.AuthCancelled);
        return _state switch
        {
            State.AwaitPlain => FinishPlain(line),
            State.AwaitLoginUser => LoginUser(line),
            State.AwaitLoginPassword => LoginPassword(line),
            _ => throw new InvalidOperationException("The exchange is not waiting for a response."),
        };
    }

    private AuthStep Finish(SmtpReplyKind reply)
    {
        _state = State.Finished;
        return AuthStep.Fail(reply);
    }

    private AuthStep FinishPlain(ReadOnlySpan<byte> encoded)
    {
        _state = State.Finished;
        if (encoded.Length > MaxLineLength) return AuthStep.Fail(SmtpReplyKind.AuthLineTooLong);
        // The initial response "=" is an empty message; PLAIN needs two NULs, so it is malformed.
        byte[]? message = DecodeStrict(encoded, 3 * MaxFieldLength + 2);
        if (message is null) return AuthStep.Fail(SmtpReplyKind.AuthMalformed);
        try
        {
            var creds = ParsePlainMessage(message);
            return creds is null ? AuthStep.Fail(SmtpReplyKind.AuthMalformed) : AuthStep.Done(creds);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(message);
        }
    }

    /// <summary>RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.</summary>
    internal static AuthCredentials? ParsePlainMessage(ReadOnlySpan<byte> message)
    {
        int first = message.IndexOf((byte)0);
        if (first < 0) return null;
        var rest = message[(first + 1)..];
        int second = rest.IndexOf((byte)0);
        if (second < 0) return null;
        var authzid = message[..first];
        var authcid = rest[..second];
        var passwd = rest[(second + 1)..];
        // Exactly two NULs: a third would sit inside the password, which RFC 4616 forbids.
        if (passwd.IndexOf((byte)0) >= 0) return null;
        if (authcid.IsEmpty || passwd.IsEmpty) return null;
        if (authzid.Length > MaxFieldLength || authcid.Length > MaxFieldLength || passwd.Length > MaxFieldLength) return null;
        if (!Utf8.IsValid(authzid) || !Utf8.IsValid(authcid) || !Utf8.IsValid(passwd)) return null;
        return new AuthCredentials(Encoding.UTF8.GetString(authzid), Encoding.UTF8.GetString(authcid), passwd.ToArray());
    }

    private AuthStep LoginUser(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxLineLength) return Finish(SmtpReplyKind.AuthLineTooLong);
        byte[]? user = DecodeStrict(encoded, MaxFieldLength);
        if (user is null || user.Length == 0 || user.AsSpan().IndexOf((byte)0) >= 0 || !Utf8.IsValid(user))
            return Finish(SmtpReplyKind.AuthMalformed);
        _loginUser = Encoding.UTF8.GetString(user);
        _state = State.AwaitLoginPassword;
        return AuthStep.Ask(LoginPasswordPrompt);
    }

    private AuthStep LoginPassword(ReadOnlySpan<byte> encoded)
    {
        _state = State.Finished;
        byte[]? password = DecodeStrict(encoded, MaxFieldLength);
        if (password is null || password.Length == 0 || password.AsSpan().IndexOf((byte)0) >= 0 || !Utf8.IsValid(password))
        {
            if (password is not null) CryptographicOperations.ZeroMemory(password);
            return AuthStep.Fail(SmtpReplyKind.AuthMalformed);
        }
        return AuthStep.Done(new AuthCredentials("", _loginUser!, password));
    }

    /// <summary>
    /// Strict RFC 4648 §4 base64: alphabet only, length a multiple of 4, padding only at the end,
    /// no whitespace. "=" alone is the RFC 4954 empty response. Returns null when malformed or when
    /// the decoded length would exceed <paramref name="maxDecoded"/> (checked before decoding).
    /// </summary>
    internal static byte[]? DecodeStrict(ReadOnlySpan<byte> encoded, int maxDecoded)
    {
        if (encoded.Length == 1 && encoded[0] == (byte)'=') return [];
        if (encoded.IsEmpty || encoded.Length % 4 != 0) return null;
        int padding = encoded[^1] == (byte)'=' ? (encoded[^2] == (byte)'=' ? 2 : 1) : 0;
        for (int i = 0; i < encoded.Length - padding; i++)
        {
            byte b = encoded[i];
            bool ok = (uint)(b - 'A') <= 'Z' - 'A' || (uint)(b - 'a') <= 'z' - 'a' || (uint)(b - '0') <= 9 || b == '+' || b == '/';
            if (!ok) return null;
        }
        int length = encoded.Length / 4 * 3 - padding;
        if (length > maxDecoded) return null;
        byte[] output = new byte[length];
        var status = Base64.DecodeFromUtf8(encoded, output, out int consumed, out int written);
        if (status != System.Buffers.OperationStatus.Done || consumed != encoded.Length || written != length)
        {
            CryptographicOperations.ZeroMemory(output);
            return null;
        }
        return output;
    }
}
