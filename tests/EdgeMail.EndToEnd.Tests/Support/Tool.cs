using System.Diagnostics;
using System.Text;

namespace EdgeMail.EndToEnd.Tests.Support;

public sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Everything a failing assertion should show.</summary>
    public override string ToString() =>
        $"$ {Command}\nexit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs a program to completion, capturing its output. Every run is bounded: a hung client fails its test.</summary>
public static class Tool
{
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(60);

    public static Task<ToolResult> RunAsync(string program, IEnumerable<string> arguments, string? stdin = null,
                                            string? workingDirectory = null, TimeSpan? limit = null)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        return RunAsync(info, stdin, limit);
    }

    public static async Task<ToolResult> RunAsync(ProcessStartInfo info, string? stdin = null, TimeSpan? limit = null)
    {
        var command = string.Join(' ', new[] { info.FileName }.Concat(info.ArgumentList.Select(Quote)));
        // Tools print ASCII transcripts; Latin-1 keeps any stray 8-bit byte visible instead of throwing.
        info.StandardOutputEncoding = Encoding.Latin1;
        info.StandardErrorEncoding = Encoding.Latin1;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {command}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();

        using var timeout = new CancellationTokenSource(limit ?? DefaultLimit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"{command} did not finish within {(limit ?? DefaultLimit).TotalSeconds} s\n" +
                        $"--- stdout ---\n{await stdout}\n--- stderr ---\n{await stderr}");
        }
        return new ToolResult(command, process.ExitCode, await stdout, await stderr);
    }

    static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=@,+".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''") + "'";
}
