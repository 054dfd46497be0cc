using EdgeMail.Smtp.Replies;

namespace EdgeMail.Smtp.Server;

/// <summary>Where a session is in RFC 5321 §4.1.4's command order.</summary>
public enum SmtpSessionState : byte
{
    /// <summary>Greeting sent; no HELO/EHLO yet.</summary>
    Connected,
    /// <summary>HELO/EHLO done; no transaction.</summary>
    Ready,
    /// <summary>MAIL accepted; no recipient yet.</summary>
    Mail,
    /// <summary>At least one RCPT accepted.</summary>
    Recipients,
    /// <summary>A BDAT chunk accepted; only BDAT continues the transaction (RFC 3030 §2).</summary>
    Chunking,
}

/// <summary>
/// THE state table: for each state and verb, either <see cref="SmtpReplyKind.Ok"/> (the handler may run) or the 503
/// reply to give instead. Handlers only ever move the state forward on success (check, then proceed).
/// </summary>
internal static class SmtpStateTable
{
    private const SmtpReplyKind Go = SmtpReplyKind.Ok;

    // Rows: states in enum order. Columns: verbs in enum order.
    private static readonly SmtpReplyKind[,] Table = BuildTable();

    public static SmtpReplyKind Check(SmtpSessionState state, SmtpVerb verb) => Table[(int)state, (int)verb];

    private static SmtpReplyKind[,] BuildTable()
    {
        int states = Enum.GetValues<SmtpSessionState>().Length;
        int verbs = Enum.GetValues<SmtpVerb>().Length;
        var t = new SmtpReplyKind[states, verbs];
        for (int s = 0; s < states; s++)
            for (int v = 0; v < verbs; v++)
                t[s, v] = Go;

        const SmtpReplyKind OnlyBdat = SmtpReplyKind.OnlyBdatMayFollow;
        //  verb               Connected                Ready                   Mail                       Recipients                Chunking
        Row(t, SmtpVerb.Mail, SmtpReplyKind.NeedHelo, Go, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail);
        Row(t, SmtpVerb.Rcpt, SmtpReplyKind.NeedHelo, SmtpReplyKind.NeedMail, Go, Go, OnlyBdat);
        Row(t, SmtpVerb.Data, SmtpReplyKind.NeedHelo, SmtpReplyKind.NeedMail, SmtpReplyKind.NeedRecipient, Go, OnlyBdat);
        Row(t, SmtpVerb.Bdat, SmtpReplyKind.NeedHelo, SmtpReplyKind.NeedMail, SmtpReplyKind.NeedRecipient, Go, Go);
        // RFC 3207 §4: STARTTLS only outside a transaction; RFC 4954 §4: AUTH not during a transaction.
        Row(t, SmtpVerb.StartTls, SmtpReplyKind.NeedHelo, Go, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail);
        Row(t, SmtpVerb.Auth, SmtpReplyKind.NeedHelo, Go, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail, SmtpReplyKind.NestedMail);
        // HELO, EHLO, RSET, NOOP, QUIT, HELP, VRFY, EXPN, obsolete and unknown verbs: allowed in every state.
        return t;
    }

    private static void Row(SmtpReplyKind[,] t, SmtpVerb verb, SmtpReplyKind connected, SmtpReplyKind ready, SmtpReplyKind mail, SmtpReplyKind recipients, SmtpReplyKind chunking)
    {
        t[(int)SmtpSessionState.Chunking, (int)verb] = chunking;
        t[(int)SmtpSessionState.Connected, (int)verb] = connected;
        t[(int)SmtpSessionState.Ready, (int)verb] = ready;
        t[(int)SmtpSessionState.Mail, (int)verb] = mail;
        t[(int)SmtpSessionState.Recipients, (int)verb] = recipients;
    }
}
