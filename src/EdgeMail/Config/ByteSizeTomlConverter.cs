using Tomlyn.Serialization;

namespace EdgeMail.Config;

/// <summary>Maps a TOML integer or unit string onto <see cref="ByteSize"/> (the schema has already
/// vetted the value; errors here still carry Tomlyn's location).</summary>
public sealed class ByteSizeTomlConverter : TomlConverter<ByteSize>
{
    public override ByteSize Read(TomlReader reader)
    {
        ByteSize size;
        switch (reader.TokenType)
        {
            case TomlTokenType.Integer:
                size = new ByteSize(reader.GetInt64());
                break;
            case TomlTokenType.String:
                if (ByteSize.TryParse(reader.GetString() ?? "", out size) is { } error)
                    throw reader.CreateException(error);
                break;
            default:
                throw reader.CreateException("expected a size");
        }
        reader.Read();
        return size;
    }

    public override void Write(TomlWriter writer, ByteSize value) => writer.WriteStringValue(value.ToString());
}
