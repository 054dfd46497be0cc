using System.Text;
using EdgeMail.Smtp.Replies;
using EdgeMail.Smtp.Security;
using EdgeMail.Spool;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Smtp.Server;

/// <summary>
/// Fuzz entry points for the server side (tests/fuzz drives them; the regression tests replay their findings):
///   smtp-commands  every line through the command parser, as the session would call it
///   smtp-data      the DATA decoder fed in random cuts must agree byte for byte with one whole read
///   smtp-session   a whole session over an in-memory connection fed in random chunks
/// One input in, an outcome label out; <see cref="FuzzInvariantException"/> for a broken contract, any other
/// exception is a finding.
/// </summary>
public static class SmtpFuzzTargets
{
    public static IReadOnlyList<string> Names { get; } = ["smtp-commands", "smtp-data", "smtp-session"];

    public static string Run(string target, ReadOnlySpan<byte> input) => target switch
    {
        "smtp-commands" => Commands(input),
        "smtp-data" => Data(input),
        "smtp-session" => Session(input.ToArray()),
        _ => throw new ArgumentException($"unknown fuzz target '{target}'", nameof(target)),
    };

    private static string Commands(ReadOnlySpan<byte> input)
    {
        // The label is the last line's (verb, result): a set over all lines would make every input "new".
        string last = "none";
        while (!input.IsEmpty)
        {
            int nl = input.IndexOf((byte)'\n');
            var line = nl < 0 ? input : input[..nl];
            input = nl < 0 ? [] : input[(nl + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r')
                line = line[..^1];
            if (line.Length > 510)
                continue; // the session never hands the parser a longer line
            // The session's own order: control characters, then 8-bit bytes outside MAIL/RCPT, are refused before
            // any argument parser sees the line.
            if (SmtpCommandParser.HasControl(line))
            {
                last = "control";
                continue;
            }
            var verb = SmtpCommandParser.ParseVerb(line, out var argument);
            if (verb is not (SmtpVerb.Mail or SmtpVerb.Rcpt) && SmtpCommandParser.HasEightBit(line))
            {
                last = "8bit";
                continue;
            }
            SmtpReplyKind result = SmtpReplyKind.Ok;
            switch (verb)
            {
                case SmtpVerb.Helo:
                case SmtpVerb.Ehlo:
                    result = SmtpCommandParser.ParseHelo(argument, out string name);
                    if (result == SmtpReplyKind.Ok)
                        NoControls(name, "HELO name");
                    break;
                case SmtpVerb.Mail:
                    result = SmtpCommandParser.ParseMail(argument, out string sender, out var parameters);
                    if (result == SmtpReplyKind.SenderOk)
                    {
                        NoControls(sender, "sender");
                        if (parameters.Size is < 0)
                            throw new FuzzInvariantException("negative SIZE accepted");
                    }
                    break;
                case SmtpVerb.Rcpt:
                    foreach (bool utf8 in (ReadOnlySpan<bool>)[false, true])
                    {
                        result = SmtpCommandParser.ParseRcpt(argument, utf8, out string recipient);
                        if (result == SmtpReplyKind.RecipientOk)
                        {
                            NoControls(recipient, "recipient");
                            if (!utf8 && recipient.Any(c => c > 0x7F))
                                throw new FuzzInvariantException("non-ASCII recipient accepted without SMTPUTF8");
                        }
                    }
                    break;
                case SmtpVerb.Bdat:
                    if (SmtpCommandParser.ParseBdat(argument, out long size, out _) && size < 0)
                        throw new FuzzInvariantException("negative BDAT size accepted");
                    break;
            }
            _ = SmtpReplies.Get(result); // every kind a parser returns has a row
            last = verb + ":" + result;
        }
        return "commands:" + last;
    }

    private static void NoControls(string value, string what)
    {
        foreach (char c in value)
            if (c < 0x20 || c == 0x7F)
                throw new FuzzInvariantException($"{what} with a control character accepted");
    }

    /// <summary>Differential: input byte 0 seeds the cuts, the rest is the DATA stream.</summary>
    private static string Data(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return "data:empty";
        var random = new Random(input[0]);
        var body = input[1..];

        var whole = body.ToArray();
        var decoder = new DataDecoder();
        var all = decoder.Decode(whole);
        Check(all, whole.Length);
        var expected = whole.AsSpan(0, all.Written).ToArray();
        bool expectedBare = decoder.SawBareLineEnding;

        var output = new List<byte>(body.Length);
        var cut = new DataDecoder();
        int at = 0;
        bool ended = false;
        while (at < body.Length && !ended)
        {
            int n = Math.Min(body.Length - at, random.Next(1, 64));
            var chunk = body.Slice(at, n).ToArray();
            var r = cut.Decode(chunk);
            Check(r, n);
            if (r.PrefixCr)
                output.Add((byte)'\r');
            output.AddRange(chunk.AsSpan(0, r.Written));
            at += r.Consumed;
            ended = r.Ended;
        }
        if (ended != all.Ended || (ended && at != all.Consumed))
            throw new FuzzInvariantException($"the end of data moved with the cuts: whole {all.Ended}@{all.Consumed}, cut {ended}@{at}");
        if (!output.SequenceEqual(expected))
            throw new FuzzInvariantException("cut decoding wrote different bytes than one whole read");
        if (cut.SawBareLineEnding != expectedBare)
            throw new FuzzInvariantException("bare line ending seen differently with cuts");
        return $"data:{(all.Ended ? "end" : "open")}:{(expectedBare ? "bare" : "clean")}:{(all.Written == all.Consumed ? "same" : "unstuffed")}";
    }

    private static void Check(DataDecoder.Result r, int length)
    {
        if (r.Consumed < 0 || r.Consumed > length || r.Written < 0 || r.Written > r.Consumed)
            throw new FuzzInvariantException($"decoder result out of bounds: {r} for {length} bytes");
        if (!r.Ended && r.Consumed != length)
            throw new FuzzInvariantException("decoder stopped early without an end");
    }

    private static readonly Lazy<(MessageSpool Spool, SmtpServerOptions Options)> SessionWorld = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgemail-fuzz-spool-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var spool = MessageSpool.Open(new SpoolOptions { Directory = dir, MinFreeBytes = 0, Fsync = false });
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            spool.Dispose();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        var options = new SmtpServerOptions { HostName = "fuzz.test", MaxErrors = 100, MaxMessageSize = 64 * 1024 };
        return (spool, options);
    });

    /// <summary>Input byte 0 seeds the read sizes; the rest is what the client sends, then it half-closes.</summary>
    private static string Session(byte[] input)
    {
        var (spool, options) = SessionWorld.Value;
        var transport = new ScriptedTransport(input.AsMemory(Math.Min(1, input.Length)), new Random(input.Length == 0 ? 0 : input[0]));
        var log = new FailureLog();
        var session = new SmtpSession(transport, new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.1"), 25), options, spool, log);
        session.RunAsync(CancellationToken.None).GetAwaiter().GetResult();
        foreach (var entry in spool.List())
            spool.Delete(entry.Id);
        if (log.Failure is { } failure)
            throw new FuzzInvariantException("session failed: " + failure);

        var codes = new SortedSet<string>(StringComparer.Ordinal);
        var text = Encoding.Latin1.GetString(transport.Written.GetBuffer(), 0, (int)transport.Written.Length);
        if (text.Length > 0 && !text.EndsWith("\r\n", StringComparison.Ordinal))
            throw new FuzzInvariantException("output does not end with CRLF");
        foreach (var line in text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length < 4 || line.Length > 510 || !char.IsAsciiDigit(line[0]) || line[0] < '2' || line[0] > '5'
                || !char.IsAsciiDigit(line[1]) || !char.IsAsciiDigit(line[2]) || line[3] is not (' ' or '-'))
                throw new FuzzInvariantException("malformed reply line: " + line);
            foreach (char c in line)
                if (c < 0x20 || c > 0x7E)
                    throw new FuzzInvariantException("reply with a byte outside printable ASCII");
            codes.Add(line[..3]);
        }
        return "session:" + string.Join(",", codes);
    }

    /// <summary>A connection whose client sent <paramref name="input"/> in random pieces and then half-closed.</summary>
    private sealed class ScriptedTransport(ReadOnlyMemory<byte> input, Random cuts) : Stream
    {
        private ReadOnlyMemory<byte> _input = input;

        public MemoryStream Written { get; } = new();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = Math.Min(Math.Min(buffer.Length, _input.Length), cuts.Next(1, 80));
            _input[..n].CopyTo(buffer);
            _input = _input[n..];
            return ValueTask.FromResult(n);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Written.Length + buffer.Length > 4 * 1024 * 1024)
                throw new FuzzInvariantException("the session wrote more than 4 MiB of replies");
            Written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Notes the session's "failed" event (an unexpected exception contained to the session): a finding.</summary>
    private sealed class FailureLog : ILogger
    {
        public string? Failure { get; private set; }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 107)
                Failure ??= formatter(state, exception);
        }
    }
}
