using System.Runtime.CompilerServices;
using EdgeMail.Smtp.Security;
using EdgeMail.Smtp.Server;

namespace EdgeMail.Smtp.Tests.Security;

/// <summary>
/// Every checked-in fuzz input — the seed corpus and each finding turned regression — runs through
/// its target here on every test run: a decoder fix that regresses fails the build, not a fuzz run.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzDir([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "fuzz"));

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "regressions", "corpus" })
            foreach (var target in SecurityFuzzTargets.Names.Concat(SmtpFuzzTargets.Names))
            {
                string dir = Path.Combine(FuzzDir(), kind, target);
                if (!Directory.Exists(dir)) continue;
                foreach (var file in Directory.GetFiles(dir).Where(f => !f.EndsWith(".txt", StringComparison.Ordinal) || kind == "corpus").Order())
                    data.Add(target, Path.GetRelativePath(FuzzDir(), file));
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Checked_in_fuzz_inputs_are_handled_without_an_unexpected_exception(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(FuzzDir(), file));
        string outcome = SmtpFuzzTargets.Names.Contains(target) ? SmtpFuzzTargets.Run(target, input) : SecurityFuzzTargets.Run(target, input);
        Assert.False(string.IsNullOrEmpty(outcome));
    }

    [Fact]
    public void The_regression_inputs_exist() // guards against the path above silently finding nothing
    {
        Assert.True(Inputs().Count >= 6);
    }

    [Theory]
    [InlineData("auth-plain", "regressions/auth-plain/three-nuls.bin", "Plain:5015.5.2")]
    [InlineData("auth-plain", "regressions/auth-plain/line-over-12288.bin", "Plain:334:5005.5.6")]
    [InlineData("auth-plain", "corpus/auth-plain/swaks-initial-response.txt", "Plain:creds")]
    [InlineData("auth-plain", "corpus/auth-plain/foreign-authzid.txt", "Plain:creds:authz")]
    [InlineData("auth-login", "corpus/auth-login/swaks-login.txt", "Login:334:334:creds")]
    [InlineData("auth-login", "corpus/auth-login/cancel.txt", "Login:334:5015.7.0")]
    [InlineData("users-file", "regressions/users-file/iteration-bomb.bin", "users:rejected:line")]
    [InlineData("users-file", "corpus/users-file/two-users.txt", "users:2")]
    public void Known_inputs_reach_the_outcome_the_specification_gives(string target, string file, string outcome)
    {
        Assert.Equal(outcome, SecurityFuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(FuzzDir(), file))));
    }
}
