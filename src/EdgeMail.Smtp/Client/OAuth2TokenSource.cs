using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeMail.Smtp.Client;

/// <summary>Obtains and renews an OAuth2 access token with the refresh_token grant (RFC 6749 §6) against a
/// configured token endpoint (Google: https://oauth2.googleapis.com/token, Microsoft 365:
/// https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token). The token is cached until shortly before it
/// expires; concurrent callers share one refresh. Pass <see cref="GetAccessTokenAsync"/> to
/// <see cref="OAuth2Credentials"/>. Neither the refresh token, the client secret nor an access token ever
/// appears in an exception message.</summary>
public sealed class OAuth2TokenSource : IDisposable
{
    /// <summary>A token endpoint answer bigger than this is not a token answer.</summary>
    internal const int MaxResponseBytes = 64 * 1024;

    private readonly Uri _endpoint;
    private readonly string _clientId;
    private readonly string? _clientSecret;
    private string _refreshToken;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _accessToken;
    private DateTimeOffset _renewAt;

    public OAuth2TokenSource(Uri tokenEndpoint, string clientId, string? clientSecret, string refreshToken,
        HttpClient? http = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(tokenEndpoint);
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentException.ThrowIfNullOrEmpty(refreshToken);
        _endpoint = tokenEndpoint;
        _clientId = clientId;
        _clientSecret = clientSecret;
        _refreshToken = refreshToken;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Renew this long before the endpoint's expiry, so a token never runs out mid-session.</summary>
    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromMinutes(5);

    public async ValueTask<string> GetAccessTokenAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _accessToken) is { } cached && _time.GetUtcNow() < _renewAt)
            return cached;
        await _gate.WaitAsync(ct);
        try
        {
            // Another caller may have refreshed while we waited.
            if (_accessToken is { } fresh && _time.GetUtcNow() < _renewAt)
                return fresh;
            return await RefreshAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets the cached token (e.g. after the upstream answered 535 to it), so the next call refreshes.</summary>
    public void Invalidate() => Volatile.Write(ref _accessToken, null);

    private async Task<string> RefreshAsync(CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "refresh_token"),
            new("client_id", _clientId),
            new("refresh_token", _refreshToken),
        };
        if (!string.IsNullOrEmpty(_clientSecret)) form.Add(new("client_secret", _clientSecret));

        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var requested = _time.GetUtcNow();
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var body = await ReadBoundedAsync(response, ct);

        TokenResponse? parsed;
        try { parsed = JsonSerializer.Deserialize(body, OAuth2JsonContext.Default.TokenResponse); }
        catch (JsonException) { parsed = null; }

        if (!response.IsSuccessStatusCode || parsed?.AccessToken is not { Length: > 0 } token)
        {
            // RFC 6749 §5.2: error and error_description are meant for the operator and carry no secret.
            var why = parsed?.Error is { } error
                ? error + (parsed.ErrorDescription is { } d ? ": " + Shorten(d) : "")
                : "no access_token in the answer";
            throw new OAuth2Exception($"token endpoint {_endpoint.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode}: {why}");
        }

        // Microsoft rotates refresh tokens; use the newest for the next refresh (kept in memory only).
        if (parsed.RefreshToken is { Length: > 0 } rotated) _refreshToken = rotated;

        var lifetime = TimeSpan.FromSeconds(parsed.ExpiresIn is > 0 ? parsed.ExpiresIn.Value : 3600);
        // Renew RenewBefore ahead of expiry, or at half-life for short-lived tokens; time counts from the request.
        var margin = lifetime > 2 * RenewBefore ? RenewBefore : lifetime / 2;
        _renewAt = requested + lifetime - margin;
        Volatile.Write(ref _accessToken, token);
        return token;
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.Content.Headers.ContentLength > MaxResponseBytes)
            throw new OAuth2Exception($"token endpoint answer larger than {MaxResponseBytes} bytes");
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxResponseBytes];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
                throw new OAuth2Exception($"token endpoint answer larger than {MaxResponseBytes} bytes");
            int n = await stream.ReadAsync(buffer.AsMemory(length), ct);
            if (n == 0) break;
            length += n;
        }
        return buffer.AsSpan(0, length).ToArray();
    }

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "…";

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
        _gate.Dispose();
    }
}

public sealed class OAuth2Exception(string message) : Exception(message);

internal sealed class TokenResponse
{
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public long? ExpiresIn { get; set; }
    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; set; }
    [JsonPropertyName("token_type")] public string? TokenType { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("error_description")] public string? ErrorDescription { get; set; }
}

// Source-generated (no reflection, NativeAOT-safe). expires_in arrives as a number from Google and Microsoft,
// as a string from some other providers.
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(TokenResponse))]
internal sealed partial class OAuth2JsonContext : JsonSerializerContext;
