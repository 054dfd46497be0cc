using System.Text;
using EdgeMail.Cli;
using EdgeMail.Spool;

namespace EdgeMail.Tests.Verbs;

/// <summary>A private folder, captured stdout/stderr and a given stdin: the binary's verbs run in-process.</summary>
public abstract class VerbHarness : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("edgemail-verb-").FullName;
    protected readonly StringWriter Out = new();
    protected readonly StringWriter Err = new();

    protected string SpoolDir => Path.Combine(Dir, "spool");

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    protected int Run(params string[] args) => RunWithInput("", args);

    protected int RunWithInput(string stdin, params string[] args) => Program.Run(new CliContext
    {
        Out = Out,
        Error = Err,
        CurrentDirectory = Dir,
        Input = new MemoryStream(Encoding.UTF8.GetBytes(stdin)),
        GetEnvironmentVariable = name => name == "USER" ? "cron" : null,
    }, args);

    /// <summary>As argv[0] would make it: the personality picks the verb, the rest passes untouched.</summary>
    protected int RunAs(string invokedAs, string stdin, params string[] args)
        => RunWithInput(stdin, Personality.Rewrite(invokedAs, args));

    /// <summary>Queues one message the way the SMTP server does; returns its queue ID.</summary>
    protected async Task<string> QueueAsync(string sender = "app@lan")
    {
        using MessageSpool spool = MessageSpool.Open(new SpoolOptions { Directory = SpoolDir });
        await using SpoolWriter writer = spool.Create(new Envelope
        {
            Sender = sender,
            Recipients = ["ops@lan"],
            ClientAddress = "127.0.0.1",
        });
        await writer.WriteAsync("Subject: t\r\n\r\nbody\r\n"u8.ToArray());
        await writer.CommitAsync();
        return writer.QueueId;
    }

    /// <summary>The spool as a fresh process would find it (maildrop imported, as the daemon does at start).</summary>
    protected IReadOnlyList<QueueEntry> Spooled()
    {
        using MessageSpool spool = MessageSpool.Open(new SpoolOptions { Directory = SpoolDir });
        return spool.List();
    }
}
