using System.Text.Json;

namespace EdgeMail.EndToEnd.Tests.Support;

/// <summary>One message as `edgemail queue --json` lists it.</summary>
public sealed record QueuedMessage(string Id, string Sender, IReadOnlyList<string> Recipients, long Size, string Arrived);

/// <summary>The binary's one-shot verbs: --version, --help, queue, and serve runs that are expected to stop on their own.</summary>
public static class EdgeMailCli
{
    public static Task<ToolResult> RunAsync(EdgeMailBinary binary, params string[] arguments) =>
        Tool.RunAsync(binary.StartInfo(arguments, Path.GetTempPath()));

    public static async Task<IReadOnlyList<QueuedMessage>> QueueAsync(EdgeMailBinary binary, string spoolDirectory)
    {
        var result = await RunAsync(binary, "queue", "--spool", spoolDirectory, "--json");
        Assert.True(result.ExitCode == 0, $"edgemail queue failed\n{result}");
        try
        {
            return Parse(result.Stdout);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            Assert.Fail($"edgemail queue --json did not print the documented array ({e.Message})\n{result}");
            throw;
        }
    }

    public static async Task<QueuedMessage> SingleQueuedAsync(EdgeMailBinary binary, string spoolDirectory, string id)
    {
        var queue = await QueueAsync(binary, spoolDirectory);
        var entry = queue.SingleOrDefault(m => m.Id == id);
        Assert.True(entry is not null, $"queue ID {id} is not listed; the queue holds [{string.Join(", ", queue.Select(m => m.Id))}]");
        return entry!;
    }

    // The contract names id, sender, recipients (array), size and arrived; anything else is tolerated.
    static List<QueuedMessage> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var list = new List<QueuedMessage>();
        foreach (var item in document.RootElement.EnumerateArray())
        {
            list.Add(new QueuedMessage(
                item.GetProperty("id").GetString()!,
                item.GetProperty("sender").GetString()!,
                item.GetProperty("recipients").EnumerateArray().Select(Recipient).ToList(),
                item.GetProperty("size").GetInt64(),
                item.GetProperty("arrived").ToString()));
        }
        return list;
    }

    // A recipient may be listed as a plain address or as an object carrying its delivery state.
    static string Recipient(JsonElement element) =>
        element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : element.GetProperty("address").GetString()!;
}
