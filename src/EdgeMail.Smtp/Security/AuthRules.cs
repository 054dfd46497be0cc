using EdgeMail.Smtp.Replies;
namespace EdgeMail.Smtp.Security;

/// <summary>When an AUTH command may start (RFC 4954 §4), checked before any exchange begins.</summary>
public static class AuthRules
{
    /// <summary>Null → start the exchange; otherwise send the reply (421 → and close).</summary>
    public static SmtpReplyKind? Check(bool alreadyAuthenticated, bool inMailTransaction, AuthPermission permission, bool addressBlocked, bool mechanismKnown)
    {
        // RFC 4954 §4: after a successful AUTH, further AUTH commands get 503; AUTH is not
        // permitted during a mail transaction.
        if (alreadyAuthenticated) return SmtpReplyKind.AlreadyAuthenticated;
        if (inMailTransaction) return SmtpReplyKind.AuthDuringTransaction;
        // Refuse before reading a password that would cross the network in the clear.
        if (permission == AuthPermission.EncryptionRequired) return SmtpReplyKind.EncryptionRequired;
        if (addressBlocked) return SmtpReplyKind.AuthTooManyFailures;
        if (!mechanismKnown) return SmtpReplyKind.AuthMechanismUnknown;
        return null;
    }
}
