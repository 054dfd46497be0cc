namespace EdgeMail.Relay;

internal sealed record UpstreamSecrets(string? User, string? Password, OAuth2Options? OAuth2);

/// <summary>
/// The secrets file: sections named by upstream URL, exactly as configured, with key = value lines.
/// <code>
/// [smtp+starttls://smtp.example.com]
/// user = alice
/// password = s3cret
/// # or, for XOAUTH2:
/// oauth2_token_endpoint = https://oauth2.googleapis.com/token
/// oauth2_client_id = ...
/// oauth2_client_secret = ...
/// oauth2_refresh_token = ...
/// </code>
/// Refused unless only its owner can read it. Values are never logged.
/// </summary>
internal sealed class RelaySecrets
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
    private const long MaxFileBytes = 64 * 1024;

    private readonly Dictionary<string, UpstreamSecrets> _byUrl;

    public static readonly RelaySecrets None = new(new());

    private RelaySecrets(Dictionary<string, UpstreamSecrets> byUrl) => _byUrl = byUrl;

    public UpstreamSecrets? For(string url) => _byUrl.GetValueOrDefault(url);

    public static RelaySecrets Load(string? path)
    {
        if (path is null) return None;
        var info = new FileInfo(path);
        if (!info.Exists) throw new RelayConfigException($"secrets file {path} does not exist");
        if (!OperatingSystem.IsWindows() && (info.UnixFileMode & GroupOrOthers) != 0)
            throw new RelayConfigException(
                $"secrets file {path} is accessible by group or others (mode {Convert.ToString((int)info.UnixFileMode, 8)}); chmod 600 it");
        if (info.Length > MaxFileBytes) throw new RelayConfigException($"secrets file {path} is larger than 64 KiB");
        return Parse(File.ReadAllLines(path), path);
    }

    internal static RelaySecrets Parse(IEnumerable<string> lines, string name)
    {
        var result = new Dictionary<string, UpstreamSecrets>(StringComparer.Ordinal);
        string? section = null;
        Dictionary<string, string>? values = null;
        var n = 0;
        void Flush()
        {
            if (section is null || values is null) return;
            OAuth2Options? oauth = null;
            if (values.TryGetValue("oauth2_refresh_token", out var refresh))
            {
                oauth = new OAuth2Options
                {
                    TokenEndpoint = values.GetValueOrDefault("oauth2_token_endpoint")
                        ?? throw new RelayConfigException($"{name}: [{section}] has oauth2_refresh_token but no oauth2_token_endpoint"),
                    ClientId = values.GetValueOrDefault("oauth2_client_id")
                        ?? throw new RelayConfigException($"{name}: [{section}] has oauth2_refresh_token but no oauth2_client_id"),
                    ClientSecret = values.GetValueOrDefault("oauth2_client_secret"),
                    RefreshToken = refresh,
                };
            }
            result[section] = new UpstreamSecrets(values.GetValueOrDefault("user"), values.GetValueOrDefault("password"), oauth);
        }
        foreach (var raw in lines)
        {
            n++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line[0] == '[' && line[^1] == ']')
            {
                Flush();
                section = line[1..^1].Trim();
                values = new Dictionary<string, string>(StringComparer.Ordinal);
                continue;
            }
            var eq = line.IndexOf('=');
            // Never echo the line: it may hold a password.
            if (eq <= 0 || values is null) throw new RelayConfigException($"{name}:{n}: expected [upstream-url] or key = value");
            var key = line[..eq].Trim().ToLowerInvariant();
            if (key is not ("user" or "password" or "oauth2_token_endpoint" or "oauth2_client_id" or "oauth2_client_secret" or "oauth2_refresh_token"))
                throw new RelayConfigException($"{name}:{n}: unknown key '{key}'");
            values[key] = line[(eq + 1)..].Trim();
        }
        Flush();
        return new RelaySecrets(result);
    }
}
