namespace EdgeMail.Config;

/// <summary>[tls] — the server certificate, STARTTLS and implicit-TLS (RFC 8314) listeners.</summary>
public sealed class TlsConfig
{
    public bool Starttls { get; set; } = true;
    public string Certificate { get; set; } = "";
    public string Key { get; set; } = "";
    public List<string> ImplicitListen { get; set; } = [];
    public string StateDirectory { get; set; } = "";

    public static ConfigSection Schema { get; } = new("tls",
    [
        new("starttls", ConfigValueType.Boolean),
        new("certificate", ConfigValueType.Text(_ => null, "a path to a PEM certificate (chain), or \"\" for a generated self-signed one")),
        new("key", ConfigValueType.Text(_ => null, "a path to the PEM private key, or \"\" when it is in the certificate file")),
        new("implicit_listen", ConfigValueType.ListOf(ConfigValueType.Text(s => ListenAddress.TryParse(s, out _), ListenAddress.Allowed))),
        new("state_directory", ConfigValueType.Text(_ => null, "a folder, or \"\" for the spool folder")),
    ]);
}
