using EdgeMail.Smtp.Replies;
using System.Text;

namespace EdgeMail.Smtp.Security;

/// <summary>Thrown by a fuzz entry point when a decoder returned something its contract forbids.</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// Entry points for tests/fuzz (the driver) and the regression tests that replay its findings:
/// one input in, an outcome label out (new labels tell the driver an input reached new behaviour).
/// Rejections the decoders are designed to make are outcomes; any other exception is a finding.
/// </summary>
public static class SecurityFuzzTargets
{
    public static IReadOnlyList<string> Names { get; } = ["auth-plain", "auth-login", "users-file", "networks"];

    public static string Run(string target, ReadOnlySpan<byte> input) => target switch
    {
        "auth-plain" => AuthExchange(AuthMechanism.Plain, input),
        "auth-login" => AuthExchange(AuthMechanism.Login, input),
        "users-file" => UsersFile(input),
        "networks" => Networks(input),
        _ => throw new ArgumentException($"unknown fuzz target '{target}'", nameof(target)),
    };

    /// <summary>Input: the AUTH argument, then one client line per CRLF/LF, as a session would feed them.</summary>
    private static string AuthExchange(AuthMechanism mechanism, ReadOnlySpan<byte> input)
    {
        var x = SaslExchange.Create(mechanism);
        int nl = input.IndexOf((byte)'\n');
        var first = TrimCr(nl < 0 ? input : input[..nl]);
        var rest = nl < 0 ? [] : input[(nl + 1)..];
        var step = x.Start(first);
        int rounds = 0;
        var outcome = new StringBuilder(mechanism.ToString());
        while (step.Kind == AuthStepKind.Challenge)
        {
            if (++rounds > 3) throw new FuzzInvariantException("more challenges than the mechanism has");
            if (step.Challenge is null) throw new FuzzInvariantException("a challenge without text");
            outcome.Append(":334");
            if (rest.IsEmpty) return outcome.Append(":eof").ToString();
            nl = rest.IndexOf((byte)'\n');
            var line = TrimCr(nl < 0 ? rest : rest[..nl]);
            rest = nl < 0 ? [] : rest[(nl + 1)..];
            step = x.Continue(line);
        }
        if (step.Kind == AuthStepKind.Credentials)
        {
            using var c = step.Credentials ?? throw new FuzzInvariantException("credentials step without credentials");
            if (c.UserName.Length == 0 || c.Password.Length == 0) throw new FuzzInvariantException("empty user or password accepted");
            if (Encoding.UTF8.GetByteCount(c.UserName) > SaslExchange.MaxFieldLength || c.Password.Length > SaslExchange.MaxFieldLength)
                throw new FuzzInvariantException("a field longer than 255 octets accepted");
            if (c.UserName.Contains('\0') || Array.IndexOf(c.Password, (byte)0) >= 0) throw new FuzzInvariantException("NUL inside a field");
            return outcome.Append(":creds").Append(c.AuthorizationIdentityAllowed ? "" : ":authz").ToString();
        }
        var reply = SmtpReplies.Get(step.Reply);
        if (reply.Code is not (500 or 501)) throw new FuzzInvariantException($"unexpected reply {reply}");
        return outcome.Append(':').Append(reply.Code).Append(reply.EnhancedCode).ToString();
    }

    private static string UsersFile(ReadOnlySpan<byte> input)
    {
        try
        {
            var names = UserStore.ParseNames(input);
            foreach (var n in names)
                if (!UserStore.IsValidUserName(n)) throw new FuzzInvariantException($"invalid name accepted: {n}");
            return "users:" + Math.Min(names.Count, 3);
        }
        catch (UsersFileException e)
        {
            if (e.Line < 0) throw new FuzzInvariantException("negative line number");
            return "users:rejected:" + (e.Line == 0 ? "file" : "line");
        }
    }

    private static string Networks(ReadOnlySpan<byte> input)
    {
        var lines = Encoding.UTF8.GetString(input).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            var list = NetworkList.Parse(lines);
            // Whatever was accepted must answer Contains for both families without throwing.
            _ = list.Contains(System.Net.IPAddress.Loopback);
            _ = list.Contains(System.Net.IPAddress.IPv6Loopback);
            _ = list.Contains(System.Net.IPAddress.Parse("::ffff:10.0.0.1"));
            return "networks:" + Math.Min(list.Networks.Count, 3);
        }
        catch (FormatException)
        {
            return "networks:rejected";
        }
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) => line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
}
