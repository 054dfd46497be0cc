using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EdgeMail.Relay;

/// <summary>
/// One line per delivery attempt, in the shape Postfix users grep for:
/// <c>ID: to=&lt;a@b&gt;, route=default, relay=host[ip]:port, delay=1.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)</c>.
/// route= names the routing rule (its pattern, "default", or "mx" for direct delivery with no rule), relay= the host
/// that answered. Never message content, never credentials.
/// </summary>
internal static class DeliveryLog
{
    /// <param name="route">The route's name in the log; null when the line is about the message, not an attempt on a
    /// route (expiry).</param>
    public static string Line(string id, IEnumerable<string> recipients, string? route, string relay, TimeSpan delay, string dsn, string status, string reply)
        => string.Create(CultureInfo.InvariantCulture,
            $"{id}: to={string.Join(',', recipients.Select(r => "<" + r + ">"))}{(route is null ? "" : ", route=" + route)}, relay={relay}, delay={Math.Max(0, delay.TotalSeconds):0.##}, dsn={dsn}, status={status} ({Sanitize(reply)})");

    /// <summary>"default", a rule's pattern, or "mx" for the default route when it delivers by MX.</summary>
    public static string RouteName(Route route) => route.IsMx && route.Name == "default" ? "mx" : route.Name;

    public static void Write(ILogger logger, string line, string status)
    {
        var level = status == "sent" ? LogLevel.Information : LogLevel.Warning;
        if (logger.IsEnabled(level)) logger.Log(level, "{Line}", line);
    }

    /// <summary>Remote replies are attacker-controlled text: keep one line, bounded.</summary>
    internal static string Sanitize(string s)
    {
        var span = s.AsSpan();
        if (span.Length > 400) span = span[..400];
        return string.Create(span.Length, span.ToString(), static (dst, src) =>
        {
            for (var i = 0; i < src.Length; i++) dst[i] = src[i] < ' ' || src[i] == '\x7f' ? ' ' : src[i];
        });
    }
}
