using System.Net;
using EdgeMail.Smtp.Replies;

namespace EdgeMail.Smtp.Server;

/// <summary>What the recipient policy (relay control, added with the security work) is told about one RCPT.</summary>
public readonly record struct RecipientCheck(IPEndPoint Client, string Helo, string Sender, string Recipient, string? AuthenticatedUser, bool Tls);

/// <summary>Per-RCPT decision: <see cref="SmtpReplyKind.RecipientOk"/> accepts, any other kind is the refusal to send.</summary>
public delegate SmtpReplyKind RecipientPolicy(in RecipientCheck check);

public sealed class SmtpServerOptions
{
    /// <summary>Our name in the greeting, EHLO and Received: headers.</summary>
    public string HostName { get; set; } = "localhost";
    public long MaxMessageSize { get; set; } = 25L * 1024 * 1024;
    public int MaxRecipients { get; set; } = 100;
    public int MaxConnections { get; set; } = 100;
    public int MaxConnectionsPerClient { get; set; } = 10;
    /// <summary>Error replies in a row before 421 and close (a client that only errs is a scanner or broken).</summary>
    public int MaxErrors { get; set; } = 10;
    /// <summary>Reject (554 5.6.0) messages holding a bare CR or LF, as Postfix's smtpd_forbid_bare_newline.</summary>
    public bool RejectBareLineEndings { get; set; } = true;
    /// <summary>RFC 5321 §4.5.3.1.4: 512 octets including CRLF.</summary>
    public int MaxCommandLineLength { get; set; } = 512;

    // RFC 5321 §4.5.3.2 timeouts. The server side waits for the client's next command (§4.5.3.2.7, 5 minutes);
    // during DATA it waits for the first and each further block (client-side 2 and 3 minutes) and bounds the
    // time the commit may take before the "." gets its answer (§4.5.3.2.6, 10 minutes on the client's side).
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan DataInitTimeout { get; set; } = TimeSpan.FromMinutes(2);
    public TimeSpan DataBlockTimeout { get; set; } = TimeSpan.FromMinutes(3);
    public TimeSpan DataTerminationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Per-RCPT policy hook; null accepts every syntactically valid recipient.</summary>
    public RecipientPolicy? RecipientPolicy { get; set; }
}
