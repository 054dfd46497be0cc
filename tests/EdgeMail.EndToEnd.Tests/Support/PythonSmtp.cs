using System.Net;
using System.Text.Json;

namespace EdgeMail.EndToEnd.Tests.Support;

public sealed record PythonSmtpResult(string Ehlo, int MailCode, int DataCode, string DataReply, ToolResult Run);

/// <summary>
/// Python's standard smtplib as an independent client. Debian's /usr/bin/python3 on purpose: the
/// `python3` on PATH is a pyenv build that the appliance world never runs.
/// </summary>
public static class PythonSmtp
{
    public const string Python = "/usr/bin/python3";

    // smtplib quotes leading dots itself (RFC 5321 §4.5.2) and sends bytes untouched otherwise.
    const string Script = """
        import json, smtplib, sys
        host, port, sender, rcpts, path, options = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(','), sys.argv[5], sys.argv[6]
        message = open(path, 'rb').read()
        with smtplib.SMTP(host, port, timeout=30) as s:
            s.ehlo('python-smtplib.test')
            mail_options = [o for o in options.split(',') if o]
            mail_code, _ = s.mail(sender, mail_options)
            for r in rcpts:
                code, reply = s.rcpt(r)
                if code != 250:
                    raise SystemExit('RCPT %s: %d %s' % (r, code, reply.decode()))
            data_code, data_reply = s.data(message)
            print(json.dumps({'ehlo': s.ehlo_resp.decode('latin1'), 'mail': mail_code,
                              'code': data_code, 'reply': data_reply.decode('latin1')}))
        """;

    public static async Task<PythonSmtpResult> SendAsync(IPEndPoint server, string sender, IReadOnlyList<string> recipients,
                                                         string messageFile, params string[] mailOptions)
    {
        Assert.True(File.Exists(Python), $"{Python} (Debian's python3) is missing: run ./build.sh test");
        var run = await Tool.RunAsync(Python,
            ["-c", Script, server.Address.ToString(), server.Port.ToString(), sender, string.Join(',', recipients), messageFile,
             string.Join(',', mailOptions)]);
        Assert.True(run.ExitCode == 0, $"smtplib client failed\n{run}");
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        return new PythonSmtpResult(root.GetProperty("ehlo").GetString()!, root.GetProperty("mail").GetInt32(),
                                    root.GetProperty("code").GetInt32(), root.GetProperty("reply").GetString()!, run);
    }
}
