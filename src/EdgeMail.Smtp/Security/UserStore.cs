using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeMail.Smtp.Security;

public sealed class UsersFileException(string message, int line = 0) : Exception(message)
{
    /// <summary>1-based line of the problem, 0 when not about one line.</summary>
    public int Line { get; } = line;
}

/// <summary>
/// The users file: one "name:$pbkdf2-sha256$iter$salt$hash" per line, '#' comments and blank
/// lines allowed. Verification reloads the file when it changed on disk (so `edgemail user add`
/// takes effect without a restart); a reload that finds a broken file keeps the last good table.
/// Edits go through temp + fsync + rename, and the file is always (re)created 0600.
/// </summary>
public sealed class UserStore
{
    // Bounds before parsing: a users file is small; a huge one is a mistake or an attack.
    public const int MaxFileBytes = 1 << 20;
    public const int MaxNameLength = 64;

    private readonly ILogger _logger;
    private readonly object _gate = new();
    private Dictionary<string, Entry> _users = new(StringComparer.OrdinalIgnoreCase);
    private (DateTime Mtime, long Length, bool Exists) _stamp;
    private readonly byte[] _dummySalt = RandomNumberGenerator.GetBytes(PasswordHash.SaltLength);
    private readonly byte[] _dummyHash = RandomNumberGenerator.GetBytes(PasswordHash.HashLength);

    private sealed record Entry(string Name, int Iterations, byte[] Salt, byte[] Hash);

    /// <summary>Loads the file (a missing file is an empty store); throws <see cref="UsersFileException"/> if it is malformed.</summary>
    public UserStore(string path, ILogger? logger = null)
    {
        FilePath = Path.GetFullPath(path);
        _logger = logger ?? NullLogger.Instance;
        var stamp = Stamp();
        _users = Load(stamp);
        _stamp = stamp;
    }

    public string FilePath { get; }

    /// <summary>Iteration count used for new entries (tests lower it; production keeps the default).</summary>
    internal int IterationsForNewEntries { get; init; } = PasswordHash.DefaultIterations;

    public int Count { get { lock (_gate) return _users.Count; } }

    /// <summary>
    /// RFC 4954 SASL names may be any UTF-8; we keep the users file simple and greppable: letters,
    /// digits and ". _ - @ +", 1 to 64 characters.
    /// </summary>
    public static bool IsValidUserName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxNameLength) return false;
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@' or '+';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Checks a password. Unknown users cost the same PBKDF2 work as known ones (no user enumeration by timing).</summary>
    public bool Verify(string userName, ReadOnlySpan<byte> password)
    {
        ReloadIfChanged();
        Entry? entry;
        lock (_gate) _users.TryGetValue(userName, out entry);
        if (entry is null)
        {
            _ = PasswordHash.Verify(password, PasswordHash.DefaultIterations, _dummySalt, _dummyHash);
            return false;
        }
        return PasswordHash.Verify(password, entry.Iterations, entry.Salt, entry.Hash);
    }

    /// <summary>Verifies decoded AUTH credentials, including the RFC 4616 authorization identity rule.</summary>
    public bool Verify(AuthCredentials credentials)
    {
        bool ok = Verify(credentials.UserName, credentials.Password);
        return ok && credentials.AuthorizationIdentityAllowed;
    }

    /// <summary>PBKDF2 is deliberately slow (~0.1–1 s); sessions call this so no I/O thread is blocked.</summary>
    public Task<bool> VerifyAsync(AuthCredentials credentials, CancellationToken cancellationToken = default) =>
        Task.Run(() => Verify(credentials), cancellationToken);

    public IReadOnlyList<string> List()
    {
        ReloadIfChanged();
        lock (_gate) return _users.Keys.Order(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    /// <summary>Adds a user, or replaces the password when <paramref name="replace"/>; false if the user exists and !replace.</summary>
    public bool Add(string name, ReadOnlySpan<byte> password, bool replace = false)
    {
        if (!IsValidUserName(name)) throw new ArgumentException($"invalid user name '{name}' (1-{MaxNameLength} of A-Z a-z 0-9 . _ - @ +)", nameof(name));
        if (password.IsEmpty) throw new ArgumentException("the password is empty", nameof(password));
        if (password.Length > SaslExchange.MaxFieldLength) throw new ArgumentException($"the password is longer than {SaslExchange.MaxFieldLength} bytes", nameof(password));
        string line = name + ":" + PasswordHash.Create(password, IterationsForNewEntries);
        lock (_gate)
        {
            var lines = ReadLinesForEdit(out var current);
            int at = lines.FindIndex(l => NameOf(l) is { } n && string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
            if (at >= 0 && !replace) return false;
            if (at >= 0) lines[at] = line; else lines.Add(line);
            WriteLines(lines);
            return true;
        }
    }

    public bool Delete(string name)
    {
        lock (_gate)
        {
            var lines = ReadLinesForEdit(out _);
            int removed = lines.RemoveAll(l => NameOf(l) is { } n && string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
            if (removed == 0) return false;
            WriteLines(lines);
            return true;
        }
    }

    /// <summary>Re-reads the file when its size or modification time changed; true if a new table is in use.</summary>
    public bool ReloadIfChanged()
    {
        var stamp = Stamp();
        lock (_gate)
        {
            if (stamp == _stamp) return false;
            try
            {
                _users = Load(stamp);
                _stamp = stamp;
                _logger.LogInformation("users file {Path} reloaded: {Count} users", FilePath, _users.Count);
                return true;
            }
            catch (Exception e) when (e is UsersFileException or IOException or UnauthorizedAccessException)
            {
                // Keep the last good table; remember the stamp so the error is logged once per change.
                _stamp = stamp;
                _logger.LogError("users file {Path} not reloaded, keeping {Count} users: {Error}", FilePath, _users.Count, e.Message);
                return false;
            }
        }
    }

    /// <summary>Parses a whole users file. Throws <see cref="UsersFileException"/> naming the first bad line.</summary>
    public static IReadOnlyList<string> ParseNames(ReadOnlySpan<byte> content) => Parse(content).Keys.ToArray();

    private static Dictionary<string, Entry> Parse(ReadOnlySpan<byte> content)
    {
        if (content.Length > MaxFileBytes) throw new UsersFileException($"larger than {MaxFileBytes} bytes");
        if (!Utf8.IsValid(content)) throw new UsersFileException("not valid UTF-8");
        var users = new Dictionary<string, Entry>(StringComparer.OrdinalIgnoreCase);
        string text = Encoding.UTF8.GetString(content);
        int lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            if (line.IsWhiteSpace() || line.TrimStart()[0] == '#') continue;
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new UsersFileException($"line {lineNo}: expected name:hash", lineNo);
            var name = line[..colon];
            if (!IsValidUserName(name)) throw new UsersFileException($"line {lineNo}: invalid user name", lineNo);
            if (!PasswordHash.TryParse(line[(colon + 1)..], out int iter, out byte[] salt, out byte[] hash))
                throw new UsersFileException($"line {lineNo}: the hash is not $pbkdf2-sha256$iterations$salt$hash", lineNo);
            string n = name.ToString();
            if (!users.TryAdd(n, new Entry(n, iter, salt, hash)))
                throw new UsersFileException($"line {lineNo}: user '{n}' appears twice", lineNo);
        }
        return users;
    }

    private Dictionary<string, Entry> Load((DateTime, long, bool Exists) stamp)
    {
        if (!stamp.Exists) return new(StringComparer.OrdinalIgnoreCase);
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(FilePath);
            // 0640 root:edgemail is a legitimate layout; anything for "others", or group write, is not.
            if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                _logger.LogWarning("users file {Path} is accessible by others or group-writable (mode {Mode}); it should be 0600 or 0640", FilePath, mode);
        }
        return Parse(ReadBounded());
    }

    private byte[] ReadBounded()
    {
        using var fs = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (fs.Length > MaxFileBytes) throw new UsersFileException($"larger than {MaxFileBytes} bytes");
        var buffer = new byte[fs.Length];
        fs.ReadExactly(buffer);
        return buffer;
    }

    private (DateTime Mtime, long Length, bool Exists) Stamp()
    {
        var info = new FileInfo(FilePath);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length, true) : (default, 0, false);
    }

    private List<string> ReadLinesForEdit(out Dictionary<string, Entry> current)
    {
        // Edit what is on disk now (another process may have changed it), after validating all of it.
        var stamp = Stamp();
        byte[] content = stamp.Exists ? ReadBounded() : [];
        current = Parse(content);
        var lines = new List<string>();
        foreach (var l in Encoding.UTF8.GetString(content).AsSpan().EnumerateLines()) lines.Add(l.TrimEnd('\r').ToString());
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private void WriteLines(List<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines) sb.Append(l).Append('\n');
        string? dir = Path.GetDirectoryName(FilePath);
        if (dir is not null) Directory.CreateDirectory(dir);
        SecureFile.WriteAtomic(FilePath, Encoding.UTF8.GetBytes(sb.ToString()));
        var stamp = Stamp();
        _users = Load(stamp);
        _stamp = stamp;
    }

    private static string? NameOf(string line)
    {
        var t = line.AsSpan().TrimStart();
        if (t.IsEmpty || t[0] == '#') return null;
        int colon = line.IndexOf(':');
        return colon > 0 ? line[..colon] : null;
    }
}
