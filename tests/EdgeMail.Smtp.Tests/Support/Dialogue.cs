namespace EdgeMail.Smtp.Tests.Support;

/// <summary>
/// Pieces of <see cref="SmtpScript"/> transcripts that many tests open or close with, each exactly what the default
/// server (host name mx.test, no TLS, no AUTH, the default limits) says. A test that changes what the server
/// offers writes those lines out itself.
/// </summary>
public static class Dialogue
{
    public const string Greeting = "S: 220 mx.test ESMTP EdgeMail";

    /// <summary>The EHLO reply up to its last line: the extensions every configuration offers. What comes last
    /// (CHUNKING alone, or CHUNKING then STARTTLS or AUTH) depends on the configuration.</summary>
    public const string EhloReplyBeforeLast = """
        S: 250-mx.test
        S: 250-PIPELINING
        S: 250-SIZE 26214400
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        """;

    /// <summary>The whole EHLO reply of a server without TLS or AUTH.</summary>
    public const string EhloReply = EhloReplyBeforeLast + "\nS: 250 CHUNKING";

    /// <summary>The greeting, then EHLO client.test and the reply of a server without TLS or AUTH.</summary>
    public const string Hello = Greeting + "\nC: EHLO client.test\n" + EhloReply;

    /// <summary>A transaction from a@example.com to b@example.com, sender and recipient accepted: what comes next
    /// is DATA or BDAT.</summary>
    public const string MailAndRcpt = """
        C: MAIL FROM:<a@example.com>
        S: 250 2.1.0 Sender ok
        C: RCPT TO:<b@example.com>
        S: 250 2.1.5 Recipient ok
        """;

    /// <summary>The greeting, HELO client.test, then <see cref="MailAndRcpt"/>.</summary>
    public const string HeloTransaction = Greeting + """

        C: HELO client.test
        S: 250 mx.test
        """ + "\n" + MailAndRcpt;

    public const string Bye = """
        C: QUIT
        S: 221 2.0.0 Bye
        """;
}
