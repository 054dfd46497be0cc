namespace EdgeMail.Fuzz;

/// <summary>
/// Byte-level mutations in the style of libFuzzer's default mutators, driven by a seeded PRNG so a
/// run is reproducible from (seed, corpus). The "interesting" bytes are the ones SMTP and the
/// decoders care about: line ends, NUL, base64 padding and alphabet edges, the dot, the colon.
/// </summary>
internal sealed class Mutator(Random random, int maxLength)
{
    private static readonly byte[] Interesting = "\r\n\0=+/.:$*# \t"u8.ToArray().Concat(new byte[] { 0x7f, 0x80, 0xc3, 0xff, (byte)'A', (byte)'z', (byte)'9' }).ToArray();
    private static readonly byte[][] Tokens =
    [
        "\r\n"u8.ToArray(), "\n"u8.ToArray(), "="u8.ToArray(), "=="u8.ToArray(), "*"u8.ToArray(), "AAAA"u8.ToArray(),
        "$pbkdf2-sha256$"u8.ToArray(), "::ffff:"u8.ToArray(), "/128"u8.ToArray(), "/0"u8.ToArray(), "\r\n.\r\n"u8.ToArray(),
        "AUTH PLAIN "u8.ToArray(), "AGFsaWNlAHB3"u8.ToArray(), "#"u8.ToArray(), "\0"u8.ToArray(),
    ];

    public byte[] Mutate(byte[] seed, IReadOnlyList<byte[]> corpus)
    {
        var data = new List<byte>(seed);
        int rounds = 1 + random.Next(8);
        for (int r = 0; r < rounds; r++)
        {
            switch (random.Next(10))
            {
                case 0 when data.Count > 0: // flip a bit
                    { int i = random.Next(data.Count); data[i] ^= (byte)(1 << random.Next(8)); break; }
                case 1 when data.Count > 0: // set an interesting byte
                    data[random.Next(data.Count)] = Interesting[random.Next(Interesting.Length)]; break;
                case 2: // insert an interesting byte
                    data.Insert(random.Next(data.Count + 1), Interesting[random.Next(Interesting.Length)]); break;
                case 3 when data.Count > 0: // erase a run
                    { int i = random.Next(data.Count); data.RemoveRange(i, Math.Min(data.Count - i, 1 + random.Next(16))); break; }
                case 4: // insert a token
                    data.InsertRange(random.Next(data.Count + 1), Tokens[random.Next(Tokens.Length)]); break;
                case 5 when data.Count > 0: // duplicate a run (grows lines towards their limits)
                    {
                        int i = random.Next(data.Count), n = Math.Min(data.Count - i, 1 + random.Next(64));
                        var run = data.GetRange(i, n);
                        int times = 1 + random.Next(random.Next(2) == 0 ? 4 : 256);
                        for (int t = 0; t < times && data.Count < maxLength; t++) data.InsertRange(i, run);
                        break;
                    }
                case 6 when corpus.Count > 0: // splice with another corpus entry
                    {
                        var other = corpus[random.Next(corpus.Count)];
                        int cut = random.Next(data.Count + 1), from = random.Next(other.Length + 1);
                        data.RemoveRange(cut, data.Count - cut);
                        data.AddRange(other.AsSpan(from).ToArray());
                        break;
                    }
                case 7 when data.Count > 1: // swap two bytes
                    { int i = random.Next(data.Count), j = random.Next(data.Count); (data[i], data[j]) = (data[j], data[i]); break; }
                case 8 when data.Count > 0: // truncate
                    { int keep = random.Next(data.Count); data.RemoveRange(keep, data.Count - keep); break; }
                default: // random byte anywhere
                    data.Insert(random.Next(data.Count + 1), (byte)random.Next(256)); break;
            }
        }
        if (data.Count > maxLength) data.RemoveRange(maxLength, data.Count - maxLength);
        return data.ToArray();
    }
}
