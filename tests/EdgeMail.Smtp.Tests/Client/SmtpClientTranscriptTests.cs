using System.Text;
using EdgeMail.Smtp.Client;
using EdgeMail.Smtp.Tests.Client.Support;

namespace EdgeMail.Smtp.Tests.Client;

/// <summary>The client against scripted servers, each reply fed whole, line by line and byte by byte.</summary>
public sealed class SmtpClientTranscriptTests
{
    private const string Greeting = Transcript.Greeting;

    private const string Ehlo = Greeting + "\n" + """
        S: 250-mx.test greets client.test
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250 SMTPUTF8
        """;

    private static readonly byte[] Message = "Subject: hi\r\n\r\nhello\r\n"u8.ToArray();

    private static Task<SmtpDeliveryResult> Send(SmtpClientSession s, string from, string[] to, byte[]? message = null,
        bool eightBit = false, bool smtpUtf8 = false, long? size = null)
    {
        message ??= Message;
        return s.SendAsync(from, to, new MemoryStream(message), size ?? message.Length, eightBit, smtpUtf8, CancellationToken.None);
    }

    /// <summary>Plays <paramref name="script"/> against a client that connects and sends one message.</summary>
    private static Task<(SmtpDeliveryResult Result, ScriptedServer Server, DuplexStream ClientEnd)> SendOneAsync(
        string script, Feed feed, string from, string[] to, byte[]? message = null, bool eightBit = false, bool smtpUtf8 = false, long? size = null) =>
        ScriptedServer.RunAsync(script, feed, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            return await Send(s, from, to, message, eightBit, smtpUtf8, size);
        });

    [Theory, InlineData(Feed.Whole), InlineData(Feed.Line), InlineData(Feed.Byte)]
    public async Task Pipelining_sends_MAIL_and_every_RCPT_in_one_write_then_streams_DATA(Feed feed)
    {
        var (result, server, client) = await ScriptedServer.RunAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            C: RCPT TO:<c@x.test>
            S: 250 2.1.0 ok
            S: 250 2.1.5 ok
            S: 250 2.1.5 ok
            C: DATA
            S: 354 go ahead
            C: <data>
            S: 250 2.0.0 queued as 1234
            C: QUIT
            S: 221 2.0.0 bye
            """, feed, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            var r = await Send(s, "a@lan", ["b@x.test", "c@x.test"]);
            await s.QuitAsync(CancellationToken.None);
            return r;
        });

        Assert.All(result.Recipients, r => Assert.Equal(DeliveryClass.Sent, r.Class));
        Assert.Equal(["b@x.test", "c@x.test"], result.Recipients.Select(r => r.Address));
        Assert.Equal(new SmtpReply(250, "2.0.0", "queued as 1234"), result.MessageReply);
        Assert.Equal("Subject: hi\r\n\r\nhello\r\n.\r\n", Encoding.ASCII.GetString(server.Data[0]));
        Assert.Contains(client.Writes, w => Encoding.ASCII.GetString(w) == "MAIL FROM:<a@lan> SIZE=22\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n");
    }

    [Theory, InlineData(Feed.Whole), InlineData(Feed.Line), InlineData(Feed.Byte)]
    public async Task EHLO_capabilities_are_parsed_from_a_multi_line_reply(Feed feed)
    {
        var (caps, _, _) = await ScriptedServer.RunAsync(Greeting + "\n" + """
            S: 250-mx.test
            S: 250-pipelining
            S: 250-SIZE 52428800
            S: 250-AUTH=LOGIN
            S: 250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2
            S: 250-STARTTLS
            S: 250-DSN
            S: 250 8BITMIME
            """, feed, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            return s.Capabilities;
        });

        Assert.True(caps.Has(SmtpExtensions.Pipelining | SmtpExtensions.Size | SmtpExtensions.Auth | SmtpExtensions.StartTls | SmtpExtensions.Dsn | SmtpExtensions.EightBitMime));
        Assert.False(caps.Has(SmtpExtensions.SmtpUtf8));
        Assert.Equal(52428800, caps.MaxSize);
        Assert.Equal(SaslMechanisms.Plain | SaslMechanisms.Login | SaslMechanisms.CramMd5 | SaslMechanisms.XOAuth2, caps.AuthMechanisms);
    }

    [Theory, InlineData(Feed.Whole, 500), InlineData(Feed.Line, 502), InlineData(Feed.Byte, 500)]
    public async Task EHLO_refused_as_unknown_falls_back_to_HELO_and_sends_one_command_at_a_time(Feed feed, int code)
    {
        var (result, _, client) = await ScriptedServer.RunAsync(Greeting + "\n" + $"""
            S: {code} command not recognised
            C: HELO client.test
            S: 250 mx.test
            C: MAIL FROM:<a@lan>
            S: 250 ok
            C: RCPT TO:<b@x.test>
            S: 250 ok
            """ + "\n" + Transcript.DataAccepted, feed, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            Assert.Equal(SmtpExtensions.None, s.Capabilities.Extensions);
            return await Send(s, "a@lan", ["b@x.test"], size: 999_999_999);
        });

        Assert.Equal(DeliveryClass.Sent, Assert.Single(result.Recipients).Class);
        Assert.Contains(client.Writes, w => Encoding.ASCII.GetString(w) == "MAIL FROM:<a@lan>\r\n");
    }

    [Theory, InlineData(Feed.Whole), InlineData(Feed.Line), InlineData(Feed.Byte)]
    public async Task Each_recipient_is_classified_on_its_own_452_deferred_550_failed_250_sent(Feed feed)
    {
        var (result, _, _) = await SendOneAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<ok@x.test>
            C: RCPT TO:<full@x.test>
            C: RCPT TO:<gone@x.test>
            S: 250 2.1.0 ok
            S: 250 2.1.5 ok
            S: 452 4.2.2 mailbox full
            S: 550-5.1.1 no such user
            S: 550 5.1.1 see https://x.test/help
            C: DATA
            S: 354 go
            C: <data>
            S: 250 2.0.0 queued
            """, feed, "a@lan", ["ok@x.test", "full@x.test", "gone@x.test"]);

        Assert.Equal([DeliveryClass.Sent, DeliveryClass.Deferred, DeliveryClass.Failed], result.Recipients.Select(r => r.Class));
        Assert.Equal(new SmtpReply(452, "4.2.2", "mailbox full"), result.Recipients[1].Reply);
        Assert.Equal(new SmtpReply(550, "5.1.1", "no such user\nsee https://x.test/help"), result.Recipients[2].Reply);
    }

    [Theory, InlineData(451, DeliveryClass.Deferred), InlineData(554, DeliveryClass.Failed)]
    public async Task The_reply_to_the_end_of_data_decides_every_accepted_recipient(int code, DeliveryClass expected)
    {
        var (result, _, _) = await SendOneAsync(Ehlo + "\n" + $"""
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            C: RCPT TO:<c@x.test>
            S: 250 ok
            S: 250 ok
            S: 550 5.1.1 unknown
            C: DATA
            S: 354 go
            C: <data>
            S: {code} {code / 100}.3.0 something
            """, Feed.Line, "a@lan", ["b@x.test", "c@x.test"]);

        Assert.Equal(expected, result.Recipients[0].Class);
        Assert.Equal(DeliveryClass.Failed, result.Recipients[1].Class);
        Assert.Equal(code, result.MessageReply!.Code);
    }

    [Theory, InlineData(451, DeliveryClass.Deferred), InlineData(550, DeliveryClass.Failed)]
    public async Task A_refused_MAIL_decides_the_whole_message_and_the_pipelined_RCPT_replies_are_still_read(int code, DeliveryClass expected)
    {
        var (result, _, _) = await ScriptedServer.RunAsync(Ehlo + "\n" + $"""
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            C: RCPT TO:<c@x.test>
            S: {code} {code / 100}.7.1 sender refused
            S: 503 5.5.1 no MAIL
            S: 503 5.5.1 no MAIL
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            S: 250 ok
            S: 250 ok
            """ + "\n" + Transcript.DataAccepted, Feed.Whole, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            var first = await Send(s, "a@lan", ["b@x.test", "c@x.test"]);
            var second = await Send(s, "a@lan", ["b@x.test"]);   // the connection is still in step
            Assert.Equal(DeliveryClass.Sent, second.Recipients[0].Class);
            return first;
        });

        Assert.All(result.Recipients, r => Assert.Equal(expected, r.Class));
        Assert.Equal(code, result.MessageReply!.Code);
    }

    [Fact]
    public async Task No_DATA_when_every_RCPT_is_refused_and_the_next_message_starts_with_RSET()
    {
        var (result, _, _) = await ScriptedServer.RunAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            S: 250 ok
            S: 550 5.1.1 unknown
            C: RSET
            S: 250 2.0.0 flushed
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<c@x.test>
            S: 250 ok
            S: 250 ok
            """ + "\n" + Transcript.DataAccepted, Feed.Line, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            var first = await Send(s, "a@lan", ["b@x.test"]);
            Assert.Null(first.MessageReply);
            await Send(s, "a@lan", ["c@x.test"]);
            return first;
        });

        Assert.Equal(DeliveryClass.Failed, Assert.Single(result.Recipients).Class);
    }

    [Fact]
    public async Task Several_messages_go_over_one_connection_with_RSET_between()
    {
        var (_, server, _) = await ScriptedServer.RunAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            S: 250 ok
            S: 250 ok
            C: DATA
            S: 354 go
            C: <data>
            S: 250 ok 1
            C: RSET
            S: 250 ok
            C: MAIL FROM:<> SIZE=6
            C: RCPT TO:<c@x.test>
            S: 250 ok
            S: 250 ok
            C: DATA
            S: 354 go
            C: <data>
            S: 250 ok 2
            C: QUIT
            S: 221 bye
            """, Feed.Whole, async stream =>
        {
            await using var s = await ScriptedServer.ConnectAsync(stream);
            await Send(s, "a@lan", ["b@x.test"]);
            await s.ResetAsync(CancellationToken.None);
            await Send(s, "", ["c@x.test"], "x\r\ny\r\n"u8.ToArray());
            await s.QuitAsync(CancellationToken.None);
            return 0;
        });

        Assert.Equal(2, server.Data.Count);
        Assert.Equal("x\r\ny\r\n.\r\n", Encoding.ASCII.GetString(server.Data[1]));
    }

    [Fact]
    public async Task A_message_over_the_servers_SIZE_fails_552_5_3_4_without_being_sent()
    {
        var (result, _, client) = await SendOneAsync(Ehlo, Feed.Whole, "a@lan", ["b@x.test", "c@x.test"], size: 10001);

        Assert.All(result.Recipients, r => Assert.Equal((DeliveryClass.Failed, 552, "5.3.4"), (r.Class, r.Reply.Code, r.Reply.Enhanced)));
        Assert.DoesNotContain(client.Writes, w => Encoding.ASCII.GetString(w).Contains("MAIL"));
    }

    [Fact]
    public async Task UTF8_addresses_to_a_server_without_SMTPUTF8_fail_5_6_7()
    {
        var (result, _, client) = await SendOneAsync(Greeting + "\n" + """
            S: 250-mx.test
            S: 250 8BITMIME
            """, Feed.Whole, "a@lan", ["jösé@x.test"], smtpUtf8: true);

        Assert.Equal((DeliveryClass.Failed, "5.6.7"), (result.Recipients[0].Class, result.Recipients[0].Reply.Enhanced));
        Assert.Single(client.Writes);   // only EHLO went out
    }

    [Fact]
    public async Task An_8bit_message_to_a_server_without_8BITMIME_bounces_5_6_3_rather_than_being_altered()
    {
        var (result, _, _) = await SendOneAsync(Greeting + "\n" + """
            S: 250-mx.test
            S: 250 PIPELINING
            """, Feed.Whole, "a@lan", ["b@x.test"], eightBit: true);

        Assert.Equal((DeliveryClass.Failed, "5.6.3"), (result.Recipients[0].Class, result.Recipients[0].Reply.Enhanced));
    }

    [Fact]
    public async Task BODY_8BITMIME_and_SMTPUTF8_are_declared_when_the_message_needs_them()
    {
        var (result, server, _) = await SendOneAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=8 BODY=8BITMIME SMTPUTF8
            C: RCPT TO:<jösé@x.test>
            S: 250 ok
            S: 250 ok
            """ + "\n" + Transcript.DataAccepted, Feed.Byte, "a@lan", ["jösé@x.test"], "é\r\nü\r\n"u8.ToArray(), eightBit: true, smtpUtf8: true);

        Assert.Equal(DeliveryClass.Sent, result.Recipients[0].Class);
        Assert.Equal("é\r\nü\r\n.\r\n"u8.ToArray(), server.Data[0]);
    }

    [Fact]
    public async Task An_address_that_could_inject_a_command_is_refused_locally()
    {
        var (result, _, client) = await SendOneAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<ok@x.test>
            S: 250 ok
            S: 250 ok
            """ + "\n" + Transcript.DataAccepted, Feed.Whole, "a@lan", ["x@y>\r\nRSET", "ok@x.test"]);

        Assert.Equal([DeliveryClass.Failed, DeliveryClass.Sent], result.Recipients.Select(r => r.Class));
        Assert.DoesNotContain(client.Writes, w => Encoding.ASCII.GetString(w).Contains("RSET"));
    }

    [Theory, InlineData(Feed.Whole), InlineData(Feed.Line), InlineData(Feed.Byte)]
    public async Task A_server_closing_in_the_middle_of_a_reply_is_a_protocol_failure(Feed feed)
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync(Greeting + "\n" + """
            S: 250-mx.test
            S+ 250-PIPELI
            S: <close>
            """, feed, s => ScriptedServer.ConnectAsync(s)));

        Assert.Equal(SmtpFailureKind.Protocol, ex.Kind);
        Assert.Contains("middle of a reply", ex.Message);
        Assert.Equal("mx.test", ex.Host);
    }

    [Fact]
    public async Task A_server_closing_before_its_greeting_is_a_protocol_failure()
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync("S: <close>", Feed.Whole, s => ScriptedServer.ConnectAsync(s)));
        Assert.Equal(SmtpFailureKind.Protocol, ex.Kind);
    }

    [Theory, InlineData("421 4.3.2 shutting down", SmtpFailureKind.ServerUnavailable), InlineData("450 busy", SmtpFailureKind.ServerUnavailable),
              InlineData("554 5.7.1 no service for you", SmtpFailureKind.Rejected), InlineData("hello", SmtpFailureKind.Protocol)]
    public async Task The_greeting_decides_whether_the_route_is_usable(string greeting, SmtpFailureKind kind)
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync($"S: {greeting}", Feed.Line, s => ScriptedServer.ConnectAsync(s)));
        Assert.Equal(kind, ex.Kind);
    }

    [Fact]
    public async Task A_421_to_RCPT_ends_the_session_as_server_unavailable_and_the_session_is_dead()
    {
        SmtpClientSession? session = null;
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync(Ehlo + "\n" + """
            C: MAIL FROM:<a@lan> SIZE=22
            C: RCPT TO:<b@x.test>
            S: 250 ok
            S: 421 4.4.2 timeout, closing
            """, Feed.Whole, async stream =>
        {
            session = await ScriptedServer.ConnectAsync(stream);
            return await Send(session, "a@lan", ["b@x.test"]);
        }));

        Assert.Equal(SmtpFailureKind.ServerUnavailable, ex.Kind);
        Assert.Equal(421, ex.Reply!.Code);
        var again = await Assert.ThrowsAsync<SmtpClientException>(() => Send(session!, "a@lan", ["b@x.test"]));
        Assert.Equal(SmtpFailureKind.Protocol, again.Kind);
    }

    [Fact]
    public async Task A_multi_line_reply_straddling_the_read_buffer_is_read_whole()
    {
        // The read buffer is 600 bytes; this EHLO reply is several times that and arrives in one write.
        var filler = string.Join("\n", Enumerable.Range(0, 60).Select(i => $"S: 250-X-FILLER-{i:D3} {new string('a', 30)}"));
        var (caps, _, _) = await ScriptedServer.RunAsync(Greeting + "\nS: 250-mx.test\n" + filler + "\nS: 250-SIZE 777\nS: 250 PIPELINING", Feed.Whole,
            stream => ScriptedServer.ConnectAsync(stream, ScriptedServer.Options(bufferSize: 600)).ContinueWith(t => t.Result.Capabilities));

        Assert.Equal(777, caps.MaxSize);
        Assert.True(caps.Has(SmtpExtensions.Pipelining));
    }

    [Fact]
    public async Task A_reply_line_longer_than_the_read_buffer_is_a_protocol_failure()
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync($"S: 220 {new string('x', 700)}", Feed.Whole,
            stream => ScriptedServer.ConnectAsync(stream, ScriptedServer.Options(bufferSize: 600))));
        Assert.Equal(SmtpFailureKind.Protocol, ex.Kind);
        Assert.Contains("longer than 600", ex.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out()
    {
        var (client, server) = DuplexStream.CreatePair();
        using (server)
        {
            var options = new SmtpClientOptions { HeloName = "client.test", GreetingTimeout = TimeSpan.FromMilliseconds(50) };
            var ex = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientSession.ConnectAsync(client, "mx.test", TlsMode.None, options, CancellationToken.None));
            Assert.Equal(SmtpFailureKind.Timeout, ex.Kind);
            Assert.Contains("greeting", ex.Message);
        }
    }

    [Fact]
    public async Task STARTTLS_required_but_not_offered_fails_the_route_before_any_mail_or_auth()
    {
        var ex = await Assert.ThrowsAsync<SmtpClientException>(() => ScriptedServer.RunAsync(Ehlo, Feed.Whole,
            stream => SmtpClientSession.ConnectAsync(stream, "mx.test", TlsMode.StartTlsRequired, ScriptedServer.Options(), CancellationToken.None)));
        Assert.Equal(SmtpFailureKind.Tls, ex.Kind);
    }

    [Fact]
    public async Task Opportunistic_TLS_stays_plain_when_STARTTLS_is_not_offered()
    {
        var (encrypted, _, _) = await ScriptedServer.RunAsync(Ehlo, Feed.Whole, async stream =>
        {
            await using var s = await SmtpClientSession.ConnectAsync(stream, "mx.test", TlsMode.Opportunistic, ScriptedServer.Options(), CancellationToken.None);
            return s.IsEncrypted;
        });
        Assert.False(encrypted);
    }

    [Theory, InlineData("client.test\r\nMAIL FROM:<x>"), InlineData("two words"), InlineData("")]
    public async Task A_HELO_name_that_could_break_the_EHLO_line_is_a_configuration_error(string name)
    {
        var (client, server) = DuplexStream.CreatePair();
        using (server)
            await Assert.ThrowsAsync<ArgumentException>(() =>
                SmtpClientSession.ConnectAsync(client, "mx.test", TlsMode.None, new SmtpClientOptions { HeloName = name }, CancellationToken.None));
        Assert.Empty(client.Writes);
    }

    [Fact]
    public async Task A_long_recipient_list_is_pipelined_in_groups_each_read_before_the_next_is_written()
    {
        int n = SmtpClientSession.MaxPipelinedRecipients + 5;
        var to = Enumerable.Range(0, n).Select(i => $"r{i}@x.test").ToArray();
        var script = new StringBuilder(Ehlo + "\nC: MAIL FROM:<a@lan> SIZE=22\n");
        foreach (var r in to.Take(SmtpClientSession.MaxPipelinedRecipients)) script.Append($"C: RCPT TO:<{r}>\n");
        script.Append("S: 250 ok\n");
        foreach (var r in to.Take(SmtpClientSession.MaxPipelinedRecipients)) script.Append("S: 250 ok\n");
        foreach (var r in to.Skip(SmtpClientSession.MaxPipelinedRecipients)) script.Append($"C: RCPT TO:<{r}>\n");
        foreach (var r in to.Skip(SmtpClientSession.MaxPipelinedRecipients)) script.Append("S: 452 4.5.3 too many recipients\n");
        script.Append(Transcript.DataAccepted);

        var (result, _, client) = await SendOneAsync(script.ToString(), Feed.Whole, "a@lan", to);

        var groups = client.Writes.Select(w => Encoding.ASCII.GetString(w)).Where(w => w.Contains("RCPT TO")).ToList();
        Assert.Equal(2, groups.Count);
        Assert.StartsWith("MAIL FROM:<a@lan>", groups[0]);
        Assert.Equal(SmtpClientSession.MaxPipelinedRecipients, groups[0].Split("RCPT TO").Length - 1);
        Assert.Equal(SmtpClientSession.MaxPipelinedRecipients, result.Recipients.Count(r => r.Class == DeliveryClass.Sent));
        Assert.Equal(5, result.Recipients.Count(r => r.Class == DeliveryClass.Deferred));
    }
}
