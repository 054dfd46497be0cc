using System.Text;

namespace EdgeMail.Tests;

/// <summary>A writer for the daemon's log (stderr) whose lines can be awaited, and its stdout (the "listening on" line).</summary>
internal sealed class LogWatch : TextWriter
{
    private readonly StringBuilder _all = new();
    private readonly StringBuilder _line = new();
    private readonly List<(string[] Parts, TaskCompletionSource Seen)> _waiters = [];

    public StdoutLines Out { get; } = new();
    public override Encoding Encoding => Encoding.UTF8;
    public string Text { get { lock (_all) return _all.ToString(); } }

    /// <summary>Completes when a line holds every one of <paramref name="parts"/> (now or earlier).</summary>
    public Task WaitForAsync(params string[] parts)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_all)
        {
            foreach (string line in _all.ToString().Split('\n'))
                if (parts.All(line.Contains)) { seen.SetResult(); return seen.Task; }
            _waiters.Add((parts, seen));
        }
        return seen.Task;
    }

    public override void Write(char value)
    {
        lock (_all)
        {
            _all.Append(value);
            if (value != '\n') { _line.Append(value); return; }
            string line = _line.ToString();
            _line.Clear();
            foreach (var (parts, seen) in _waiters)
                if (parts.All(line.Contains)) seen.TrySetResult();
        }
    }

    internal sealed class StdoutLines : TextWriter
    {
        private readonly StringBuilder _line = new();
        private readonly TaskCompletionSource<string> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<string> FirstLine => _first.Task;
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value != '\n') { _line.Append(value); return; }
                _first.TrySetResult(_line.ToString().TrimEnd('\r'));
                _line.Clear();
            }
        }
    }
}
