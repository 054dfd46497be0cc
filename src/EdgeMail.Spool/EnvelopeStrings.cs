namespace EdgeMail.Spool;

/// <summary>
/// One shared copy of each envelope string the queue index holds. A LAN's appliances send from a handful of
/// addresses, say the same HELO, come from the same few IP addresses and write to the same few recipients, so a
/// queue of thousands of messages (a smarthost away for a day) repeats a few dozen strings thousands of times.
/// Bounded: past <see cref="MaxStrings"/> distinct strings new ones are kept as they come, unshared.
/// </summary>
internal sealed class EnvelopeStrings
{
    public const int MaxStrings = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    // Most messages have one recipient: the one-element list is shared as well (envelopes are immutable).
    private readonly Dictionary<string, string[]> _single = new(StringComparer.Ordinal);

    /// <summary>The envelope with its strings replaced by the shared copies (a new object; the argument is unchanged).</summary>
    public Envelope Share(Envelope envelope)
    {
        lock (_gate)
        {
            IReadOnlyList<string> recipients;
            if (envelope.Recipients.Count == 1)
            {
                string only = Get(envelope.Recipients[0]);
                if (!_single.TryGetValue(only, out string[]? list))
                {
                    list = [only];
                    if (_single.Count < MaxStrings) _single.Add(only, list);
                }
                recipients = list;
            }
            else
            {
                var copy = new string[envelope.Recipients.Count];
                for (int i = 0; i < copy.Length; i++) copy[i] = Get(envelope.Recipients[i]);
                recipients = copy;
            }
            return new Envelope
            {
                Sender = Get(envelope.Sender),
                Recipients = recipients,
                ClientAddress = Get(envelope.ClientAddress),
                Helo = Get(envelope.Helo),
                Protocol = Get(envelope.Protocol),
                Body = envelope.Body,
                SmtpUtf8 = envelope.SmtpUtf8,
                AuthenticatedUser = envelope.AuthenticatedUser is { } user ? Get(user) : null,
                Arrived = envelope.Arrived,
            };
        }
    }

    private string Get(string value)
    {
        if (_strings.TryGetValue(value, out string? shared)) return shared;
        if (_strings.Count < MaxStrings) _strings.Add(value, value);
        return value;
    }
}
