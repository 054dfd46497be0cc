namespace EdgeMail.Smtp.Security;

/// <summary>When an AUTH command may start (RFC 4954 §4), checked before any exchange begins.</summary>
public static class AuthRules
{
    public static readonly SecurityReply AlreadyAuthenticated = new(503, "5.5.1", "Already authenticated");
    public static readonly SecurityReply DuringTransaction = new(503, "5.5.1", "AUTH not permitted during a mail transaction");

    /// <summary>Null → start the exchange; otherwise send the reply (421 → and close).</summary>
    public static SecurityReply? Check(bool alreadyAuthenticated, bool inMailTransaction, AuthPermission permission, bool addressBlocked, bool mechanismKnown)
    {
        // RFC 4954 §4: after a successful AUTH, further AUTH commands get 503; AUTH is not
        // permitted during a mail transaction.
        if (alreadyAuthenticated) return AlreadyAuthenticated;
        if (inMailTransaction) return DuringTransaction;
        // Refuse before reading a password that would cross the network in the clear.
        if (permission == AuthPermission.EncryptionRequired) return SecurityReplies.EncryptionRequired;
        if (addressBlocked) return SecurityReplies.AuthTooManyFailures;
        if (!mechanismKnown) return SecurityReplies.AuthMechanismUnknown;
        return null;
    }
}
