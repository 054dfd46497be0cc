using System.Diagnostics;
using EdgeMail.Smtp.Tests.Support;

namespace EdgeMail.Smtp.Tests.Server;

/// <summary>Clients nobody here wrote, against the listener on loopback: swaks (with and without PIPELINING),
/// Python's smtplib (Debian's /usr/bin/python3) and curl's smtp:// upload.</summary>
public sealed class ForeignClientTests : IAsyncDisposable
{
    private readonly LoopbackServer _server = new();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    [Theory]
    [InlineData("--pipeline")]
    [InlineData("--no-pipeline")]
    public async Task Swaks_delivers_a_message(string pipelining)
    {
        var (exit, output) = await RunAsync("swaks", "--server", $"127.0.0.1:{_server.Endpoint.Port}", pipelining,
            "--ehlo", "swaks.test", "--from", "sensor@plant.example", "--to", "ops@example.com",
            "--header", "Subject: from swaks", "--body", "hello\n.leading dot\n");
        Assert.True(exit == 0, output);
        var entry = Assert.Single(_server.Smtp.Spool.List());
        Assert.Equal("swaks.test", entry.Envelope.Helo);
        string text = _server.Smtp.MessageText(entry.Id);
        Assert.Contains("Subject: from swaks\r\n", text);
        Assert.Contains("\r\n.leading dot\r\n", text);
    }

    [Fact]
    public async Task Python_smtplib_delivers_a_message_with_size_and_8bitmime()
    {
        const string script = """
            import smtplib, sys
            s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='python.test')
            s.ehlo()
            assert s.has_extn('pipelining') and s.has_extn('size') and s.has_extn('8bitmime'), s.esmtp_features
            refused = s.sendmail('app@plant.example', ['a@example.com', 'b@example.com'],
                                 'Subject: from python\r\n\r\nbody\r\n', mail_options=['BODY=8BITMIME'])
            assert refused == {}, refused
            code, _ = s.vrfy('root')
            assert code == 252, code
            s.quit()
            """;
        var (exit, output) = await RunAsync("/usr/bin/python3", "-c", script, _server.Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(exit == 0, output);
        var entry = Assert.Single(_server.Smtp.Spool.List());
        Assert.Equal(["a@example.com", "b@example.com"], entry.Envelope.Recipients);
        Assert.Equal(EdgeMail.Spool.BodyType.EightBitMime, entry.Envelope.Body);
    }

    [Fact]
    public async Task Curl_uploads_a_message()
    {
        string file = Path.Combine(_server.Smtp.Folder, "upload.eml");
        await File.WriteAllTextAsync(file, "Subject: from curl\r\n\r\nuploaded\r\n");
        var (exit, output) = await RunAsync("curl", "--silent", "--show-error", $"smtp://127.0.0.1:{_server.Endpoint.Port}/curl.test",
            "--mail-from", "cron@plant.example", "--mail-rcpt", "ops@example.com", "--upload-file", file);
        Assert.True(exit == 0, output);
        var entry = Assert.Single(_server.Smtp.Spool.List());
        Assert.Contains("Subject: from curl\r\n", _server.Smtp.MessageText(entry.Id));
    }
}
