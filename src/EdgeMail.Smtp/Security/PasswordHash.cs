using System.Security.Cryptography;
using System.Text;

namespace EdgeMail.Smtp.Security;

/// <summary>
/// "$pbkdf2-sha256$ITERATIONS$SALT$HASH" (salt and hash in standard base64). PBKDF2-HMAC-SHA256
/// with 600 000 iterations is OWASP's 2023 floor; the iteration count is stored per entry so it can
/// be raised later without invalidating old entries.
/// </summary>
public static class PasswordHash
{
    public const string Scheme = "pbkdf2-sha256";
    public const int DefaultIterations = 600_000;
    // Bounds on what a users file may ask for: below the floor is a weak file, above the ceiling
    // a denial of service (one AUTH would burn minutes of CPU).
    public const int MinIterations = 1_000;
    public const int MaxIterations = 50_000_000;
    public const int SaltLength = 16;
    public const int HashLength = 32;

    public static string Create(ReadOnlySpan<byte> password, int iterations = DefaultIterations)
    {
        if (iterations < MinIterations || iterations > MaxIterations) throw new ArgumentOutOfRangeException(nameof(iterations));
        Span<byte> salt = stackalloc byte[SaltLength];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashLength];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, iterations, HashAlgorithmName.SHA256);
        return $"${Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>Parses the encoded form; false for anything that is not exactly our scheme.</summary>
    public static bool TryParse(ReadOnlySpan<char> encoded, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0; salt = []; hash = [];
        Span<Range> parts = stackalloc Range[6];
        // "$a$b$c$d" splits into "", a, b, c, d.
        if (encoded.Split(parts, '$') != 5) return false;
        if (!encoded[parts[0]].IsEmpty || !encoded[parts[1]].SequenceEqual(Scheme)) return false;
        var iter = encoded[parts[2]];
        if (iter.IsEmpty || iter.Length > 9 || iter[0] == '0') return false;
        foreach (char c in iter) if (c is < '0' or > '9') return false;
        int n = int.Parse(iter, System.Globalization.CultureInfo.InvariantCulture);
        if (n < MinIterations || n > MaxIterations) return false;
        byte[]? s = FromBase64(encoded[parts[3]]);
        byte[]? h = FromBase64(encoded[parts[4]]);
        if (s is null || s.Length < 8 || s.Length > 64 || h is null || h.Length != HashLength) return false;
        iterations = n; salt = s; hash = h;
        return true;
    }

    public static bool Verify(ReadOnlySpan<byte> password, int iterations, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> expected)
    {
        Span<byte> actual = stackalloc byte[HashLength];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, actual, iterations, HashAlgorithmName.SHA256);
        // Constant time: the comparison must not reveal how many leading bytes matched.
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static byte[]? FromBase64(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > 128) return null;
        byte[] buffer = new byte[text.Length];
        return Convert.TryFromBase64Chars(text, buffer, out int written) && !ContainsWhitespace(text)
            ? buffer[..written] : null;
    }

    private static bool ContainsWhitespace(ReadOnlySpan<char> text)
    {
        foreach (char c in text) if (char.IsWhiteSpace(c)) return true;
        return false;
    }

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
