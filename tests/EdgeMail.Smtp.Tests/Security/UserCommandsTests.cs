using System.Text;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Tests.Security;

public sealed class UserCommandsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-usercmd-").FullName;
    private string Users => Path.Combine(_dir, "users");
    private readonly StringWriter _out = new(), _err = new();
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<ConsoleKeyInfo> Typed(params string[] lines)
    {
        var q = new Queue<ConsoleKeyInfo>(string.Concat(lines.Select(l => l + "\n")).Select(c =>
            c == '\n' ? new ConsoleKeyInfo('\r', ConsoleKey.Enter, false, false, false) : new ConsoleKeyInfo(c, ConsoleKey.A, false, false, false)));
        return q.Dequeue;
    }

    [Fact]
    public void Add_from_a_pipe_then_list_then_delete()
    {
        Assert.Equal(0, UserCommands.Add(Users, "printer", new StringReader("s3cret\n"), false, _out, _err));
        Assert.Equal(0, UserCommands.List(Users, _out, _err));
        Assert.EndsWith("printer" + Environment.NewLine, _out.ToString());
        Assert.True(new UserStore(Users).Verify("printer", "s3cret"u8));
        Assert.Equal(0, UserCommands.Delete(Users, "printer", _out, _err));
        Assert.Equal(UserCommands.NoUser, UserCommands.Delete(Users, "printer", _out, _err));
    }

    [Fact]
    public void On_a_terminal_the_password_is_asked_twice_and_must_match()
    {
        Assert.Equal(0, UserCommands.Add(Users, "a", TextReader.Null, true, _out, _err, readKey: Typed("pw1", "pw1")));
        Assert.Equal(UserCommands.DataError, UserCommands.Add(Users, "b", TextReader.Null, true, _out, _err, readKey: Typed("pw1", "pw2")));
        Assert.Equal(["a"], new UserStore(Users).List());
        Assert.DoesNotContain("pw1", _err.ToString() + _out.ToString());
    }

    [Fact]
    public void Adding_an_existing_user_needs_replace()
    {
        UserCommands.Add(Users, "a", new StringReader("one\n"), false, _out, _err);
        Assert.Equal(UserCommands.DataError, UserCommands.Add(Users, "a", new StringReader("two\n"), false, _out, _err));
        Assert.Contains("--replace", _err.ToString());
        Assert.Equal(0, UserCommands.Add(Users, "a", new StringReader("two\n"), false, _out, _err, replace: true));
        Assert.True(new UserStore(Users).Verify("a", "two"u8));
    }

    [Fact]
    public void Bad_names_empty_passwords_and_broken_files_give_sysexits_codes()
    {
        Assert.Equal(UserCommands.Usage, UserCommands.Add(Users, "bad name", new StringReader("pw\n"), false, _out, _err));
        Assert.Equal(UserCommands.DataError, UserCommands.Add(Users, "a", new StringReader("\n"), false, _out, _err));
        File.WriteAllText(Users, "garbage\n");
        Assert.Equal(UserCommands.Config, UserCommands.List(Users, _out, _err));
        Assert.Equal(UserCommands.Config, UserCommands.Add(Users, "a", new StringReader("pw\n"), false, _out, _err));
        Assert.Equal("garbage\n", File.ReadAllText(Users));
    }
}
