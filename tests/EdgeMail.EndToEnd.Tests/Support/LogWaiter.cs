namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>Awaits the server's own log lines (the event), never a delay: "N lines containing all of these".</summary>
public static class LogWaiter
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static async Task WaitForLogAsync(this EdgeMailServer server, int count, params string[] parts)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The whole log is counted each time (it already holds the line when the event fires), so a line
        // logged before or while subscribing is neither missed nor counted twice.
        void Check(string _)
        {
            if (server.Log.Split('\n').Count(l => parts.All(l.Contains)) >= count) reached.TrySetResult();
        }
        server.LogLine += Check;
        try
        {
            Check("");
            try
            {
                await reached.Task.WaitAsync(Limit);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"the server did not log [{string.Join(" … ", parts)}] {count} time(s) within {Limit.TotalSeconds} s\n{server.Diagnostics()}");
            }
        }
        finally
        {
            server.LogLine -= Check;
        }
    }
}
