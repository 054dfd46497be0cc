namespace EdgeMail.Smtp.Client;

/// <summary>One server reply. <paramref name="Enhanced"/> is the RFC 3463 status code ("5.1.1") when the server
/// sent one; <paramref name="Text"/> is every line's text (code and enhanced code removed) joined with "\n".</summary>
public sealed record SmtpReply(int Code, string? Enhanced, string Text)
{
    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransient => Code is >= 400 and < 500;
    public bool IsPermanent => Code >= 500;

    public override string ToString() =>
        Enhanced is null ? $"{Code} {Text.Replace('\n', ' ')}" : $"{Code} {Enhanced} {Text.Replace('\n', ' ')}";
}
