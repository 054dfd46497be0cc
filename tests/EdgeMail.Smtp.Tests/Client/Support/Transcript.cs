namespace EdgeMail.Smtp.Tests.Client.Support;

/// <summary>Transcript pieces that many client tests share, in <see cref="ScriptedServer"/>'s notation; join them
/// with "\n".</summary>
public static class Transcript
{
    /// <summary>The server's greeting and the client's EHLO.</summary>
    public const string Greeting = """
        S: 220 mx.test ESMTP ready
        C: EHLO client.test
        """;

    /// <summary>The client's DATA, the server's 354, the message, and the server's 250 for it.</summary>
    public const string DataAccepted = """
        C: DATA
        S: 354 go
        C: <data>
        S: 250 ok
        """;

    /// <summary>A server that offers no extension taking one message from a@lan to b@x.test, one command at a time.</summary>
    public const string OneMessageWithoutExtensions = Greeting + "\n" + """
        S: 250 mx.test
        C: MAIL FROM:<a@lan>
        S: 250 ok
        C: RCPT TO:<b@x.test>
        S: 250 ok
        """ + "\n" + DataAccepted;
}
