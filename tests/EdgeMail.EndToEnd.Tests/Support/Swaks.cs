namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>swaks (Debian) as an independent SMTP client.</summary>
public static class Swaks
{
    public const string Program = "/usr/bin/swaks";

    /// <summary>One swaks session with <paramref name="server"/> on loopback, bounded by swaks' own 30 s timeout, with
    /// <paramref name="arguments"/> saying the rest (--from, --to, --tls, …). The exit code is the caller's to check.</summary>
    public static async Task<ToolResult> RunAsync(EdgeMailServer server, params string[] arguments)
    {
        Assert.True(File.Exists(Program), $"{Program} is missing: run ./build.sh test (it installs swaks)");
        return await Tool.RunAsync(Program, ["--server", "127.0.0.1", "--port", server.Port.ToString(), "--timeout", "30", .. arguments]);
    }
}
