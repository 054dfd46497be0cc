using System.Text;
using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace EdgeMail.EndToEnd.Tests;

public sealed class MailKitClientTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_MimeMessage_sent_with_MailKit_is_acknowledged_and_queued_for_every_recipient()
    {
        using var dir = new TempDirectory("mailkit");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Freezer 3", "freezer3@lan.test"));
        message.To.Add(new MailboxAddress("Ops", "ops@example.test"));
        message.Cc.Add(new MailboxAddress("On call", "oncall@example.test"));
        message.Subject = "Temperature alert";
        message.Body = new TextPart("plain") { Text = "Freezer 3 is at -4 °C.\n.\nA lone dot above must survive.\n" };

        using var transcript = new MemoryStream();
        string reply;
        using (var client = new SmtpClient(new ProtocolLogger(transcript, leaveOpen: true)))
        {
            client.Timeout = 30_000;
            await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None);
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Pipelining), "EHLO lacks PIPELINING");
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.EightBitMime), "EHLO lacks 8BITMIME");
            reply = await client.SendAsync(message);
            await client.DisconnectAsync(quit: true);
        }

        var log = Encoding.UTF8.GetString(transcript.ToArray());
        var id = Queued.IdIn(log);
        Assert.Contains(id, reply);
        var entry = await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, id);
        Assert.Equal("freezer3@lan.test", entry.Sender);
        Assert.Equal(["ops@example.test", "oncall@example.test"], entry.Recipients);
        // What MailKit put on the wire: the message in SMTP form (CRLF), before dot-stuffing.
        using var wire = new MemoryStream();
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        await message.WriteToAsync(format, wire);
        Queued.HasSizeOf(entry, wire.Length);
    }
}
