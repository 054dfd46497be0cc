using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EdgeMail.Device.Tests;

/// <summary>firmware-config/install.sh into a temp folder standing in for a mounted Raspberry Pi OS image.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class InstallScriptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgemail-image-").FullName;
    private readonly string _binary;
    private static readonly string FirmwareConfig = Path.GetFullPath(Path.Combine(SourceDir(), "../../firmware-config"));

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    public InstallScriptTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        // The start of a Raspberry Pi OS passwd/group: ids 998 and 999 are taken, gpio exists in the real one
        // but not here, so the script has to create it.
        File.WriteAllText(Path.Combine(_root, "etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nsystemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n" +
            "messagebus:x:999:999::/nonexistent:/usr/sbin/nologin\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n");
        File.WriteAllText(Path.Combine(_root, "etc/group"), "root:x:0:\nsystemd-network:x:998:\nmessagebus:x:999:\npi:x:1000:\n");
        File.WriteAllText(Path.Combine(_root, "etc/shadow"), "root:*:19000:0:99999:7:::\n");
        _binary = Path.Combine(_root, "..", Path.GetFileName(_root) + "-edgemail");
        File.WriteAllText(_binary, "#!/bin/sh\necho edgemail\n");
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        File.Delete(_binary);
    }

    private string P(string path) => Path.Combine(_root, path.TrimStart('/'));

    private async Task<(int Code, string Output)> Install(params string[] extra)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(FirmwareConfig, "install.sh"), "--root", _root, "--binary", _binary, .. extra])
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    private static string[] Lines(string file, string prefix) => File.ReadAllLines(file).Where(l => l.StartsWith(prefix)).ToArray();

    [Fact]
    public async Task Installing_twice_into_an_image_root_gives_one_complete_installation()
    {
        var first = await Install();
        Assert.True(first.Code == 0, first.Output);
        var second = await Install();
        Assert.True(second.Code == 0, second.Output);

        Assert.Equal("#!/bin/sh\necho edgemail\n", File.ReadAllText(P("/usr/local/bin/edgemail")));
        Assert.True(File.GetUnixFileMode(P("/usr/local/bin/edgemail")).HasFlag(UnixFileMode.UserExecute));

        var config = File.ReadAllText(P("/etc/edgemail/edgemail.toml"));
        Assert.Contains("listen = [\"0.0.0.0:25\"]", config);
        Assert.Contains("directory = \"/var/spool/edgemail\"", config);
        // On the device the four status LEDs are live entries on their documented BCM pins.
        Assert.Equal(4, Lines(P("/etc/edgemail/edgemail.toml"), "[[leds]]").Count());
        foreach (string led in new[] { "name = \"status\"\nchip = 0\nline = 17", "name = \"queue\"\nchip = 0\nline = 27",
                                       "name = \"error\"\nchip = 0\nline = 22", "name = \"activity\"\nchip = 0\nline = 23" })
            Assert.Contains(led, config);
        Assert.Equal(["listen = [\"0.0.0.0:25\"]"], Lines(P("/etc/edgemail/edgemail.toml"), "listen"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(P("/etc/edgemail/edgemail.toml")));
        Assert.False(File.Exists(P("/etc/edgemail/edgemail.toml.new")));

        Assert.Equal(File.ReadAllText(Path.Combine(FirmwareConfig, "edgemail.service")), File.ReadAllText(P("/etc/systemd/system/edgemail.service")));
        Assert.Equal("/etc/systemd/system/edgemail.service", new FileInfo(P("/etc/systemd/system/multi-user.target.wants/edgemail.service")).LinkTarget);
        Assert.Equal("/usr/local/bin/edgemail", new FileInfo(P("/usr/sbin/sendmail")).LinkTarget);
        Assert.Equal("/usr/local/bin/edgemail", new FileInfo(P("/usr/bin/mailq")).LinkTarget);

        var user = Assert.Single(Lines(P("/etc/passwd"), "edgemail:")).Split(':');
        Assert.Equal("/usr/sbin/nologin", user[6]);
        var group = Assert.Single(Lines(P("/etc/group"), "edgemail:")).Split(':');
        Assert.Equal(group[2], user[3]);
        Assert.InRange(int.Parse(user[2]), 100, 997);                  // a free system id
        Assert.Single(Lines(P("/etc/group"), "gpio:"));
        Assert.StartsWith("edgemail:!*:", Assert.Single(Lines(P("/etc/shadow"), "edgemail:")));
        var ids = File.ReadAllLines(P("/etc/group")).Select(l => l.Split(':')[2]).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());

        Assert.True(Directory.Exists(P("/var/spool/edgemail/maildrop/tmp")));
        // 3733: sticky (nobody removes another's drop), set-group-ID (drops get the daemon's group), write-only for others.
        Assert.Equal(UnixFileMode.StickyBit | UnixFileMode.SetGroup | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                     | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute,
            File.GetUnixFileMode(P("/var/spool/edgemail/maildrop")));
        Assert.DoesNotContain("created", second.Output);
        Assert.DoesNotContain("linked", second.Output);
    }

    [Fact]
    public async Task An_edited_config_is_never_overwritten_and_the_new_default_goes_beside_it()
    {
        Assert.Equal(0, (await Install()).Code);
        File.AppendAllText(P("/etc/edgemail/edgemail.toml"), "\n# my change\n");
        var again = await Install();
        Assert.Equal(0, again.Code);
        Assert.EndsWith("# my change\n", File.ReadAllText(P("/etc/edgemail/edgemail.toml")));
        Assert.Contains("listen = [\"0.0.0.0:25\"]", File.ReadAllText(P("/etc/edgemail/edgemail.toml.new")));
        Assert.Contains("kept your", again.Output);
    }

    [Fact]
    public async Task Another_mta_s_sendmail_is_left_alone()
    {
        Directory.CreateDirectory(P("/usr/sbin"));
        File.WriteAllText(P("/usr/sbin/sendmail"), "postfix");
        var r = await Install();
        Assert.Equal(0, r.Code);
        Assert.Equal("postfix", File.ReadAllText(P("/usr/sbin/sendmail")));
        Assert.Contains("not ours", r.Output);
    }

    [Fact]
    public async Task A_folder_that_is_not_a_root_file_system_is_refused()
    {
        File.Delete(P("/etc/passwd"));
        var r = await Install();
        Assert.NotEqual(0, r.Code);
        Assert.Contains("does not look like a root file system", r.Output);
    }

    [Fact]
    public async Task No_enable_leaves_the_service_disabled()
    {
        Assert.Equal(0, (await Install("--no-enable")).Code);
        Assert.False(File.Exists(P("/etc/systemd/system/multi-user.target.wants/edgemail.service")));
    }

    [Fact]
    public async Task The_installed_unit_is_confined_systemd_analyze_security_rates_its_exposure_at_most_2_5_of_10()
    {
        Assert.Equal(0, (await Install("--no-enable")).Code);
        var start = new ProcessStartInfo("/usr/bin/systemd-analyze") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["security", "--offline=yes", "--root=" + _root, P("/etc/systemd/system/edgemail.service")])
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        string output = await stdout + await stderr;
        // "→ Overall exposure level for edgemail.service: 2.0 OK": 0 is fully confined, 10 is not at all.
        var m = System.Text.RegularExpressions.Regex.Match(output, @"Overall exposure level for edgemail\.service: (\d+\.\d)");
        Assert.True(m.Success, output);
        Assert.InRange(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0.0, 2.5);
    }
}
