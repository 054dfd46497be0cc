using System.Diagnostics;
using System.Security.Cryptography;
using EdgeMail.Fuzz;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;

// A deterministic, self-contained fuzz driver (no instrumentation: NativeAOT and SharpFuzz do not mix).
// It feeds mutated corpus inputs to pluggable targets, keeps inputs that produce a new outcome label
// (a cheap stand-in for coverage feedback), and saves any input that throws or hangs to findings/.
//
//   EdgeMail.Fuzz --seconds N [--target NAME|all] [--seed N] [--corpus DIR] [--findings DIR]
//                 [--timeout-ms N] [--max-len N]
//   EdgeMail.Fuzz --replay FILE_OR_DIR... [--target NAME]      run inputs once (regression check)
//
// Exit codes: 0 no findings, 1 crash found, 3 hang found, 2 usage.

var targets = new Dictionary<string, Func<byte[], string>>(StringComparer.Ordinal);
foreach (var name in SecurityFuzzTargets.Names) targets[name] = input => SecurityFuzzTargets.Run(name, input);
// The command parser, the DATA decoder (differential: random cuts against one whole read) and a whole session.
foreach (var name in SmtpFuzzTargets.Names) targets[name] = input => SmtpFuzzTargets.Run(name, input);

int seconds = 30, timeoutMs = 2000, maxLen = 16384;
int seed = Environment.TickCount;
string target = "all";
string corpusDir = "tests/fuzz/corpus", findingsDir = "tests/fuzz/findings";
var replay = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--seconds": seconds = int.Parse(Next()); break;
        case "--target": target = Next(); break;
        case "--seed": seed = int.Parse(Next()); break;
        case "--corpus": corpusDir = Next(); break;
        case "--findings": findingsDir = Next(); break;
        case "--timeout-ms": timeoutMs = int.Parse(Next()); break;
        case "--max-len": maxLen = int.Parse(Next()); break;
        case "--replay": while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) replay.Add(args[++i]); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
string[] selected = target == "all" ? targets.Keys.ToArray() : [target];
foreach (var t in selected)
    if (!targets.ContainsKey(t)) { Console.Error.WriteLine($"unknown target {t}; known: {string.Join(", ", targets.Keys)}"); return 2; }

if (replay.Count > 0) return Replay();

// Per target: its own corpus folder, plus the shared SMTP transcripts (any bytes are fair input).
var corpora = selected.ToDictionary(t => t, t => LoadCorpus(Path.Combine(corpusDir, t)).Concat(LoadCorpus(Path.Combine(corpusDir, "smtp"))).ToList());
Directory.CreateDirectory(findingsDir);
Console.WriteLine($"fuzz: seed {seed}, {seconds} s, targets {string.Join(",", selected)}, per-input timeout {timeoutMs} ms");

var random = new Random(seed);
var mutator = new Mutator(random, maxLen);
var outcomes = selected.ToDictionary(t => t, _ => new HashSet<string>(StringComparer.Ordinal));
var crashSignatures = new HashSet<string>(StringComparer.Ordinal);
long executions = 0;
int crashes = 0;

// The watchdog: the worker publishes the input it is running and when it started; if one input runs
// longer than the timeout the watchdog saves it as a hang and ends the process (a .NET thread cannot
// be aborted, and a hung decoder is the finding).
byte[]? current = null;
string currentTarget = "";
long currentStart = 0;
var stop = Stopwatch.StartNew();
var worker = new Thread(() =>
{
    // Seeds first, unmutated, so the corpus itself is always checked.
    foreach (var t in selected)
        foreach (var s in corpora[t].ToArray()) Execute(t, s);
    while (stop.Elapsed.TotalSeconds < seconds)
    {
        var t = selected[random.Next(selected.Length)];
        var corpus = corpora[t];
        byte[] baseInput = corpus.Count == 0 ? [] : corpus[random.Next(corpus.Count)];
        Execute(t, mutator.Mutate(baseInput, corpus));
    }
}, 16 * 1024 * 1024) { IsBackground = true, Name = "fuzz-worker" };
worker.Start();
while (!worker.Join(100))
{
    long started = Volatile.Read(ref currentStart);
    if (started != 0 && Stopwatch.GetElapsedTime(started).TotalMilliseconds > timeoutMs)
    {
        string path = Save("hang", currentTarget, Volatile.Read(ref current)!, $"no result after {timeoutMs} ms");
        Console.WriteLine($"fuzz: HANG in {currentTarget}, input saved to {path}");
        return 3;
    }
}
Console.WriteLine($"fuzz: {executions} executions, {outcomes.Sum(o => o.Value.Count)} distinct outcomes, corpus {corpora.Sum(c => c.Value.Count)}, {crashes} crashes");
return crashes > 0 ? 1 : 0;

void Execute(string t, byte[] input)
{
    Volatile.Write(ref current, input);
    currentTarget = t;
    Volatile.Write(ref currentStart, Stopwatch.GetTimestamp());
    try
    {
        string outcome = targets[t](input);
        if (outcomes[t].Add(outcome)) corpora[t].Add(input); // new behaviour: worth mutating further
    }
    catch (Exception e)
    {
        // One saved input per distinct (target, exception type, throwing frame).
        string signature = $"{t}|{e.GetType().Name}|{e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
        if (crashSignatures.Add(signature))
        {
            crashes++;
            string path = Save("crash", t, input, e.ToString());
            Console.WriteLine($"fuzz: CRASH in {t}: {e.GetType().Name}: {e.Message} — input saved to {path}");
        }
    }
    finally
    {
        Volatile.Write(ref currentStart, 0);
        executions++;
    }
}

string Save(string kind, string t, byte[] input, string detail)
{
    string id = Convert.ToHexStringLower(SHA256.HashData(input))[..16];
    string dir = Path.Combine(findingsDir, t);
    Directory.CreateDirectory(dir);
    string path = Path.Combine(dir, $"{kind}-{id}.bin");
    File.WriteAllBytes(path, input);
    File.WriteAllText(Path.ChangeExtension(path, ".txt"), detail + "\n");
    return path;
}

int Replay()
{
    int failures = 0, count = 0;
    foreach (var item in replay)
    {
        var files = Directory.Exists(item) ? Directory.GetFiles(item, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".txt", StringComparison.Ordinal)) : [item];
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            // A file under <dir>/<target>/ replays against that target; otherwise against every selected one.
            string parent = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(file)))!;
            foreach (var t in targets.ContainsKey(parent) ? [parent] : selected)
            {
                count++;
                try { targets[t](File.ReadAllBytes(file)); }
                catch (Exception e) { failures++; Console.WriteLine($"replay: {file} [{t}]: {e.GetType().Name}: {e.Message}"); }
            }
        }
    }
    Console.WriteLine($"replay: {count} runs, {failures} failures");
    return failures == 0 ? 0 : 1;
}

static List<byte[]> LoadCorpus(string dir) =>
    Directory.Exists(dir) ? Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList() : [];
