using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>RFC 5321 command by command, each transcript fed whole, line by line and byte by byte.</summary>
public sealed class SessionTranscriptTests : IDisposable
{
    private readonly SmtpScript _smtp = new();

    public void Dispose() => _smtp.Dispose();

    private Task<IReadOnlyList<string>> Run(Feed feed, string script) => _smtp.RunAsync(script, feed);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Greeting_then_ehlo_lists_the_extensions_and_quit_closes(Feed feed) => Run(feed, Dialogue.Hello + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Helo_answers_250_with_our_name(Feed feed) => Run(feed, """
        S: 220 mx.test ESMTP EdgeMail
        C: HELO client.test
        S: 250 mx.test
        C: helo
        S: 501 5.5.4 Syntax: EHLO <domain>
        C: QUIT
        S: 221 2.0.0 Bye
        """);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_message_is_queued_and_acknowledged_with_its_queue_id(Feed feed)
    {
        var lines = await Run(feed, Dialogue.Hello + """

            C: MAIL FROM:<sensor@plant.example>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<ops@example.com>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: boiler
            C:
            C: temperature high
            C: ..and a line starting with a dot
            C: .
            S: 250 2.0.0 Ok: queued as *
            """ + "\n" + Dialogue.Bye);
        string id = SmtpScript.QueueIdFrom(lines);
        var entry = _smtp.Spool.Get(id);
        Assert.NotNull(entry);
        Assert.Equal("sensor@plant.example", entry.Envelope.Sender);
        Assert.Equal(["ops@example.com"], entry.Envelope.Recipients);
        Assert.Equal("client.test", entry.Envelope.Helo);
        Assert.Equal("192.0.2.10", entry.Envelope.ClientAddress);
        Assert.Equal("ESMTP", entry.Envelope.Protocol);
        string text = _smtp.MessageText(id);
        Assert.StartsWith($"Received: from client.test ([192.0.2.10])\r\n\tby mx.test (EdgeMail) with ESMTP id {id}\r\n\tfor <ops@example.com>; ", text);
        Assert.EndsWith("\r\nSubject: boiler\r\n\r\ntemperature high\r\n.and a line starting with a dot\r\n", text);
        Assert.Contains(_smtp.Log.Lines, l => l.StartsWith($"accepted {id} from [192.0.2.10]:40000: sender=<sensor@plant.example> recipients=ops@example.com size=", StringComparison.Ordinal));
    }

    /// <summary>The telnet session from the seed notes (seeds/002), typed by hand: no angle brackets.</summary>
    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task The_seed_notes_telnet_dialogue_is_understood(Feed feed)
    {
        await Run(feed, """
            S: 220 mx.test ESMTP EdgeMail
            C: HELO host.domeniu.ro
            S: 250 mx.test
            C: MAIL FROM: user@domeniu.ro
            S: 250 2.1.0 Sender ok
            C: RCPT TO: user@altdomeniu.ro
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: test
            C: un mesaj test
            C: .
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """);
        var entry = Assert.Single(_smtp.Spool.List());
        Assert.Equal("user@domeniu.ro", entry.Envelope.Sender);
        Assert.Equal(["user@altdomeniu.ro"], entry.Envelope.Recipients);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task Helo_client_gets_smtp_protocol_and_several_recipients_get_no_for_clause(Feed feed)
    {
        var lines = await Run(feed, """
            S: 220 mx.test ESMTP EdgeMail
            C: HELO old.appliance
            S: 250 mx.test
            C: MAIL FROM: ups@old.appliance
            S: 250 2.1.0 Sender ok
            C: RCPT TO: a@example.com
            S: 250 2.1.5 Recipient ok
            C: RCPT TO:<b@example.com>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: on battery
            C: .
            S: 250 2.0.0 Ok: queued as *
            C: QUIT
            S: 221 2.0.0 Bye
            """);
        string id = SmtpScript.QueueIdFrom(lines);
        string text = _smtp.MessageText(id);
        Assert.StartsWith($"Received: from old.appliance ([192.0.2.10])\r\n\tby mx.test (EdgeMail) with SMTP id {id}; ", text);
        Assert.Equal(["a@example.com", "b@example.com"], _smtp.Spool.Get(id)!.Envelope.Recipients);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task The_null_sender_and_mail_parameters_are_accepted(Feed feed)
    {
        var lines = await Run(feed, Dialogue.Hello + """

            C: MAIL FROM:<> SIZE=100 BODY=8BITMIME SMTPUTF8
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<jörg@bücher.example>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Grüße
            C: .
            S: 250 2.0.0 Ok: queued as *
            """ + "\n" + Dialogue.Bye);
        var entry = _smtp.Spool.Get(SmtpScript.QueueIdFrom(lines))!;
        Assert.Equal("", entry.Envelope.Sender);
        Assert.True(entry.Envelope.SmtpUtf8);
        Assert.Equal(EdgeMail.Spool.BodyType.EightBitMime, entry.Envelope.Body);
        Assert.Equal("UTF8SMTP", entry.Envelope.Protocol);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Malformed_mail_and_rcpt_are_refused_with_501_555_and_the_transaction_goes_on(Feed feed) => Run(feed, Dialogue.Hello + """

        C: MAIL TO:<a@example.com>
        S: 501 5.5.4 Syntax: MAIL FROM:<address>
        C: MAIL FROM:<not an address>
        S: 501 5.1.7 Bad sender address syntax
        C: MAIL FROM:<a@example.com> SIZE=ten
        S: 501 5.5.4 Invalid parameter value
        C: MAIL FROM:<a@example.com> BODY=BINARYMIME
        S: 501 5.5.4 Invalid parameter value
        C: MAIL FROM:<a@example.com> RET=FULL
        S: 555 5.5.4 Unsupported parameter
        C: MAIL FROM:<jörg@example.com>
        S: 501 5.6.7 Non-ASCII characters need SMTPUTF8
        C: MAIL FROM:<a@example.com>
        S: 250 2.1.0 Sender ok
        C: RCPT <b@example.com>
        S: 501 5.5.4 Syntax: RCPT TO:<address>
        C: RCPT TO:<b>
        S: 501 5.1.3 Bad recipient address syntax
        C: RCPT TO:<b@example.com> NOTIFY=NEVER
        S: 555 5.5.4 Unsupported parameter
        C: RCPT TO:<jörg@example.com>
        S: 501 5.6.7 Non-ASCII characters need SMTPUTF8
        C: RCPT TO:<postmaster>
        S: 250 2.1.5 Recipient ok
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task A_declared_size_over_the_limit_is_refused_at_mail_with_552(Feed feed) => Run(feed, Dialogue.Hello + """

        C: MAIL FROM:<a@example.com> SIZE=26214401
        S: 552 5.3.4 Message size exceeds fixed limit
        C: MAIL FROM:<a@example.com> SIZE=26214400
        S: 250 2.1.0 Sender ok
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Commands_out_of_order_get_503(Feed feed) => Run(feed, $"""
        S: 220 mx.test ESMTP EdgeMail
        C: MAIL FROM:<a@example.com>
        S: 503 5.5.1 Send HELO/EHLO first
        C: EHLO client.test
        {Dialogue.EhloReply}
        C: RCPT TO:<b@example.com>
        S: 503 5.5.1 Need MAIL command
        C: DATA
        S: 503 5.5.1 Need MAIL command
        C: MAIL FROM:<a@example.com>
        S: 250 2.1.0 Sender ok
        C: MAIL FROM:<a@example.com>
        S: 503 5.5.1 Sender already specified
        C: DATA
        S: 503 5.5.1 Need RCPT command
        C: RSET
        S: 250 2.0.0 Ok
        C: RCPT TO:<b@example.com>
        S: 503 5.5.1 Need MAIL command
        C: QUIT
        S: 221 2.0.0 Bye
        """);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Ehlo_again_resets_the_transaction(Feed feed) => Run(feed, Dialogue.Hello + """

        C: MAIL FROM:<a@example.com>
        S: 250 2.1.0 Sender ok
        C: HELO again.test
        S: 250 mx.test
        C: RCPT TO:<b@example.com>
        S: 503 5.5.1 Need MAIL command
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Rset_noop_help_vrfy_expn_obsolete_and_unknown_commands(Feed feed) => Run(feed, Dialogue.Hello + """

        C: NOOP
        S: 250 2.0.0 Ok
        C: NOOP anything at all
        S: 250 2.0.0 Ok
        C: RSET
        S: 250 2.0.0 Ok
        C: RSET now
        S: 501 5.5.4 No parameters allowed
        C: HELP
        S: 214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY; HELP <command> for more
        C: HELP mail
        S: 214 2.0.0 MAIL FROM:<address> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]: start a transaction
        C: HELP RCPT
        S: 214 2.0.0 RCPT TO:<address>: add a recipient (repeat for more)
        C: HELP DATA
        S: 214 2.0.0 DATA: send the message, end with a line holding only a dot
        C: HELP frobnicate
        S: 504 5.5.1 No help on that topic
        C: VRFY root
        S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
        C: VRFY
        S: 501 5.5.4 Syntax: VRFY <address>
        C: EXPN staff
        S: 502 5.5.1 EXPN not available
        C: NOOP
        S: 250 2.0.0 Ok
        C: TURN
        S: 502 5.5.1 Command obsolete, not implemented
        C: SEND FROM:<a@example.com>
        S: 502 5.5.1 Command obsolete, not implemented
        C: SOML FROM:<a@example.com>
        S: 502 5.5.1 Command obsolete, not implemented
        C: SAML FROM:<a@example.com>
        S: 502 5.5.1 Command obsolete, not implemented
        C: VERB
        S: 502 5.5.1 Command obsolete, not implemented
        C: FROB
        S: 500 5.5.2 Command unrecognized
        C:
        S: 500 5.5.2 Command unrecognized
        C: NOOP
        S: 250 2.0.0 Ok
        C: MAIL FROM:<a@example.com>
        S: 250 2.1.0 Sender ok
        C: RCPT TO:<b@example.com>
        S: 250 2.1.5 Recipient ok
        C: DATA now
        S: 501 5.5.4 No parameters allowed
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Nul_and_eight_bit_bytes_in_commands_are_refused(Feed feed) => Run(feed, Dialogue.Hello + """

        R: NOOP a\0b\r\n
        S: 500 5.5.2 Invalid character in command
        C: HELO bücher.example
        S: 501 5.6.7 Non-ASCII characters need SMTPUTF8
        C: FRÖB
        S: 500 5.5.2 Command unrecognized
        C: NOOP
        S: 250 2.0.0 Ok
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task A_command_line_over_512_octets_gets_500_and_the_session_stays_usable(Feed feed) => Run(feed, Dialogue.Hello + $"""

        C: NOOP {new string('x', 505)}
        S: 250 2.0.0 Ok
        C: NOOP {new string('x', 506)}
        S: 500 5.5.6 Line too long
        C: MAIL FROM:<a@example.com> {new string('x', 20000)}
        S: 500 5.5.6 Line too long
        C: NOOP
        S: 250 2.0.0 Ok
        """ + "\n" + Dialogue.Bye);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task Ten_errors_in_a_row_end_the_session_with_421(Feed feed) => Run(feed, """
        S: 220 mx.test ESMTP EdgeMail
        C: FROB 1
        S: 500 5.5.2 Command unrecognized
        C: FROB 2
        S: 500 5.5.2 Command unrecognized
        C: NOOP
        S: 250 2.0.0 Ok
        C: FROB 1
        S: 500 5.5.2 Command unrecognized
        C: FROB 2
        S: 500 5.5.2 Command unrecognized
        C: FROB 3
        S: 500 5.5.2 Command unrecognized
        C: FROB 4
        S: 500 5.5.2 Command unrecognized
        C: FROB 5
        S: 500 5.5.2 Command unrecognized
        C: MAIL FROM:<a@example.com>
        S: 503 5.5.1 Send HELO/EHLO first
        C: FROB 7
        S: 500 5.5.2 Command unrecognized
        C: FROB 8
        S: 500 5.5.2 Command unrecognized
        C: FROB 9
        S: 500 5.5.2 Command unrecognized
        C: FROB 10
        S: 500 5.5.2 Command unrecognized
        S: 421 4.7.0 Too many errors, closing connection
        C: NOOP
        """);

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public Task At_most_max_recipients_then_452(Feed feed)
    {
        _smtp.Options.MaxRecipients = 2;
        return Run(feed, Dialogue.Hello + """

            C: MAIL FROM:<a@example.com>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<r1@example.com>
            S: 250 2.1.5 Recipient ok
            C: RCPT TO:<r2@example.com>
            S: 250 2.1.5 Recipient ok
            C: RCPT TO:<r3@example.com>
            S: 452 4.5.3 Too many recipients
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: x
            C: .
            S: 250 2.0.0 Ok: queued as *
            """ + "\n" + Dialogue.Bye);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_pipelined_batch_is_answered_in_order_including_a_second_message(Feed feed)
    {
        var lines = await Run(feed, Dialogue.Hello + """

            C: MAIL FROM:<a@example.com>
            C: RCPT TO:<r1@example.com>
            C: RCPT TO:<bad>
            C: RCPT TO:<r2@example.com>
            C: DATA
            C: one
            C: .
            C: MAIL FROM:<b@example.com>
            C: RCPT TO:<r3@example.com>
            C: DATA
            C: two
            C: .
            C: QUIT
            S: 250 2.1.0 Sender ok
            S: 250 2.1.5 Recipient ok
            S: 501 5.1.3 Bad recipient address syntax
            S: 250 2.1.5 Recipient ok
            S: 354 End data with <CR><LF>.<CR><LF>
            S: 250 2.0.0 Ok: queued as *
            S: 250 2.1.0 Sender ok
            S: 250 2.1.5 Recipient ok
            S: 354 End data with <CR><LF>.<CR><LF>
            S: 250 2.0.0 Ok: queued as *
            S: 221 2.0.0 Bye
            """);
        Assert.Equal(2, _smtp.Spool.List().Count);
    }

    [Theory]
    [MemberData(nameof(Feeds.All), MemberType = typeof(Feeds))]
    public async Task A_message_over_the_size_limit_is_read_to_its_end_then_refused_with_552_and_not_queued(Feed feed)
    {
        _smtp.Options.MaxMessageSize = 100;
        await Run(feed, Dialogue.Hello.Replace("SIZE 26214400", "SIZE 100") + $"""

            C: MAIL FROM:<a@example.com>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<r@example.com>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: {new string('a', 60)}
            C: {new string('b', 60)}
            C: MAIL FROM:<inside@example.com>
            C: .
            S: 552 5.3.4 Message size exceeds fixed limit
            C: MAIL FROM:<a@example.com>
            S: 250 2.1.0 Sender ok
            C: RCPT TO:<r@example.com>
            S: 250 2.1.5 Recipient ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: {new string('c', 96)}
            C: .
            S: 250 2.0.0 Ok: queued as *
            """ + "\n" + Dialogue.Bye);
        Assert.Single(_smtp.Spool.List());
        Assert.Contains(_smtp.Log.Lines, l => l.Contains("reason=message size over limit", StringComparison.Ordinal));
    }
}
