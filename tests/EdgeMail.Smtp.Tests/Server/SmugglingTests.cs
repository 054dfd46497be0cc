using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>
/// SMTP smuggling (the 2023 CVE-2023-51764/-51765/-51766 family): only &lt;CRLF&gt;.&lt;CRLF&gt; ends DATA
/// (RFC 5321 §4.1.1.4). A message carrying &lt;LF&gt;.&lt;LF&gt;, &lt;CR&gt;.&lt;CR&gt; or any bare CR/LF never ends early,
/// never starts a second transaction, and is refused with 554 5.6.0 after its real end — nothing queued.
/// </summary>
public sealed class SmugglingTests : IDisposable
{
    private const string Transaction = Dialogue.HeloTransaction + """

        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        """;

    private readonly SmtpScript _smtp = new();

    public void Dispose() => _smtp.Dispose();

    public static TheoryData<string, Feed> Variants()
    {
        var data = new TheoryData<string, Feed>();
        foreach (var terminator in new[] { @"\n.\n", @"\r.\r", @"\r\n.\n", @"\n.\r\n", @"\r.\r\n", @"\r\n.\r" })
            foreach (var feed in new[] { Feed.Whole, Feed.Lines, Feed.Bytes, Feed.Random })
                data.Add(terminator, feed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task A_fake_terminator_never_ends_data_nor_starts_a_second_transaction(string terminator, Feed feed)
    {
        await _smtp.RunAsync(Transaction + $"""

            R: Subject: hello\r\n\r\nfirst{terminator}MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\n
            C: .
            S: 554 5.6.0 Message contains bare CR or LF; use CRLF line endings
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Empty(_smtp.Spool.List());
        Assert.Contains(_smtp.Log.Lines, l => l.Contains("reason=bare CR or LF in message", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_bare_lf_anywhere_in_the_message_is_refused(Feed feed)
    {
        await _smtp.RunAsync(Transaction + """

            R: Subject: x\r\n\r\nunix line\nend\r\n.\r\n
            S: 554 5.6.0 Message contains bare CR or LF; use CRLF line endings
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        Assert.Empty(_smtp.Spool.List());
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task With_bare_line_endings_allowed_the_smuggled_text_stays_inside_one_message(Feed feed)
    {
        _smtp.Options.RejectBareLineEndings = false;
        var lines = await _smtp.RunAsync(Transaction + """

            R: Subject: hello\r\n\r\nfirst\n.\nMAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nsmuggled\r\n.\r\n
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """, feed);
        var only = Assert.Single(_smtp.Spool.List());
        Assert.Equal(["b@example.com"], only.Envelope.Recipients);
        Assert.EndsWith("first\n.\nMAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nsmuggled\r\n", _smtp.MessageText(SmtpScript.QueueIdFrom(lines)));
    }
}
