using EdgeMail.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace EdgeMail.EndToEnd.Tests;

public sealed class SmtplibClientTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_message_sent_with_python_smtplib_is_acknowledged_with_its_queue_id_and_listed_with_its_envelope_and_size()
    {
        using var dir = new TempDirectory("smtplib");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = Messages.Plain("smtplib");
        var file = dir.Write("message.eml", message);

        var result = await PythonSmtp.SendAsync(server.Endpoint, "sensor@lan.test", ["ops@example.test", "oncall@example.test"], file);

        Assert.Equal(250, result.MailCode);
        Assert.Equal(250, result.DataCode);
        var id = Queued.IdIn("250 " + result.DataReply);
        var entry = await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, id);
        Assert.Equal("sensor@lan.test", entry.Sender);
        Assert.Equal(["ops@example.test", "oncall@example.test"], entry.Recipients);
        Queued.HasSizeOf(entry, message.Length);
        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task EHLO_advertises_the_extensions_issue_2_requires()
    {
        using var dir = new TempDirectory("smtplib-ehlo");
        await using var server = await EdgeMailServer.StartAsync(EdgeMailBinary.X64, dir.File("spool"), output);
        var file = dir.Write("message.eml", Messages.Plain("ehlo"));

        var result = await PythonSmtp.SendAsync(server.Endpoint, "a@lan.test", ["b@example.test"], file);

        var keywords = result.Ehlo.Split('\n').Skip(1).Select(l => l.Trim().Split(' ')[0].ToUpperInvariant()).ToHashSet();
        foreach (var required in new[] { "PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8" })
            Assert.True(keywords.Contains(required), $"EHLO lacks {required}:\n{result.Ehlo}");
    }

    [Fact]
    public async Task An_8bit_body_declared_with_BODY_8BITMIME_is_queued_byte_for_byte()
    {
        using var dir = new TempDirectory("smtplib-8bit");
        var binary = EdgeMailBinary.X64;
        await using var server = await EdgeMailServer.StartAsync(binary, dir.File("spool"), output);
        var message = System.Text.Encoding.UTF8.GetBytes(
            "From: <a@lan.test>\r\nTo: <b@example.test>\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n\r\nTemperatur über 40 °C — Lüfter prüfen.\r\n");
        var file = dir.Write("message.eml", message);

        var result = await PythonSmtp.SendAsync(server.Endpoint, "a@lan.test", ["b@example.test"], file, "BODY=8BITMIME");

        Assert.Equal(250, result.DataCode);
        var entry = await EdgeMailCli.SingleQueuedAsync(binary, server.SpoolDirectory, Queued.IdIn("250 " + result.DataReply));
        Queued.HasSizeOf(entry, message.Length);
    }
}
