using System.Text;
using EdgeMail.Smtp.Security;

namespace EdgeMail.Smtp.Tests.Security;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UserStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgemail-users-").FullName;
    private string UsersPath => Path.Combine(_dir, "users");
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);
    private UserStore NewStore() => new(UsersPath) { IterationsForNewEntries = 1000 };

    [Fact]
    public void A_missing_file_is_an_empty_store_that_verifies_nobody()
    {
        var store = NewStore();
        Assert.Equal(0, store.Count);
        Assert.False(store.Verify("alice", U("pw")));
    }

    [Fact]
    public void Added_user_verifies_with_the_right_password_only()
    {
        var store = NewStore();
        Assert.True(store.Add("alice", U("correct horse")));
        Assert.True(store.Verify("alice", U("correct horse")));
        Assert.False(store.Verify("alice", U("correct hors")));
        Assert.False(store.Verify("alice", U("")));
        Assert.False(store.Verify("bob", U("correct horse")));
    }

    [Fact]
    public void The_file_is_one_line_per_user_in_the_pbkdf2_sha256_format_with_a_random_salt()
    {
        var store = NewStore();
        store.Add("alice", U("pw"));
        store.Add("bob", U("pw"));
        var lines = File.ReadAllLines(UsersPath);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^alice:\$pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$", lines[0]);
        Assert.NotEqual(lines[0].Split('$')[3], lines[1].Split('$')[3]);
        Assert.DoesNotContain("pw", lines[0].Split(':')[1]);
    }

    [Fact]
    public void New_entries_use_at_least_600000_iterations_by_default()
    {
        Assert.True(PasswordHash.DefaultIterations >= 600_000);
        string encoded = PasswordHash.Create(U("pw"));
        Assert.True(PasswordHash.TryParse(encoded, out int iter, out _, out _));
        Assert.Equal(600_000, iter);
        var store = new UserStore(UsersPath);
        store.Add("real", U("pw"));
        Assert.True(store.Verify("real", U("pw")));
    }

    [Fact]
    public void The_users_file_is_created_owner_only()
    {
        NewStore().Add("alice", U("pw"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(UsersPath));
    }

    [Fact]
    public void An_edit_keeps_the_group_read_bit_of_a_root_edgemail_0640_file_but_never_adds_access()
    {
        var store = NewStore();
        store.Add("alice", U("pw"));
        File.SetUnixFileMode(UsersPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        store.Add("bob", U("pw"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(UsersPath));
    }

    [Fact]
    public void An_edit_as_root_keeps_the_file_owned_by_the_service_user()
    {
        // Only root can give a file away; as another user there is nothing to preserve (xunit 2 has no runtime skip).
        if (SecureFileOwner(_dir).Uid != 0) return;
        var store = NewStore();
        store.Add("alice", U("pw"));
        Assert.Equal(0, Chown(UsersPath, 4242, 4343));
        store.Add("bob", U("pw"));
        Assert.Equal((4242u, 4343u), SecureFileOwner(UsersPath));
    }

    private static (uint Uid, uint Gid) SecureFileOwner(string path) =>
        EdgeMail.Smtp.Security.SecureFile.Owner(path) ?? throw new InvalidOperationException("statx failed");

    private static int Chown(string path, int uid, int gid)
    {
        using var p = System.Diagnostics.Process.Start("chown", [$"{uid}:{gid}", path]);
        p.WaitForExit();
        return p.ExitCode;
    }

    [Fact]
    public void Adding_an_existing_user_needs_replace_and_then_changes_the_password()
    {
        var store = NewStore();
        store.Add("alice", U("old"));
        Assert.False(store.Add("ALICE", U("new")));
        Assert.True(store.Verify("alice", U("old")));
        Assert.True(store.Add("alice", U("new"), replace: true));
        Assert.True(store.Verify("alice", U("new")));
        Assert.False(store.Verify("alice", U("old")));
        Assert.Single(store.List());
    }

    [Fact]
    public void Delete_removes_only_that_user_and_keeps_comments()
    {
        File.WriteAllText(UsersPath, "# appliances\n");
        var store = NewStore();
        store.Add("alice", U("a"));
        store.Add("bob", U("b"));
        Assert.True(store.Delete("alice"));
        Assert.False(store.Delete("alice"));
        Assert.Equal(["bob"], store.List());
        Assert.StartsWith("# appliances\n", File.ReadAllText(UsersPath));
        Assert.False(store.Verify("alice", U("a")));
        Assert.True(store.Verify("bob", U("b")));
    }

    [Fact]
    public void A_change_on_disk_by_another_process_is_picked_up_on_the_next_verify()
    {
        var running = NewStore();
        var cli = NewStore();
        cli.Add("carol", U("pw"));
        Assert.True(running.Verify("carol", U("pw")));
        cli.Delete("carol");
        Assert.False(running.Verify("carol", U("pw")));
    }

    [Fact]
    public void A_broken_file_fails_loudly_at_start_but_a_broken_reload_keeps_the_last_good_table()
    {
        var store = NewStore();
        store.Add("alice", U("pw"));
        File.AppendAllText(UsersPath, "bob:plaintext-password\n");
        File.SetLastWriteTimeUtc(UsersPath, DateTime.UtcNow.AddSeconds(5));
        Assert.True(store.Verify("alice", U("pw")));
        var e = Assert.Throws<UsersFileException>(() => new UserStore(UsersPath));
        Assert.Equal(2, e.Line);
    }

    [Theory]
    [InlineData("alice")]                                  // no hash
    [InlineData("alice:")]
    [InlineData(":$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("al ice:$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("alice:$pbkdf2-sha1$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("alice:$pbkdf2-sha256$10$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]   // too few iterations
    [InlineData("alice:$pbkdf2-sha256$999999999$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")] // CPU bomb
    [InlineData("alice:$pbkdf2-sha256$01000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("alice:$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAA")]                                            // short hash
    [InlineData("alice:$pbkdf2-sha256$1000$c2Fs dHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("alice:$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$x")]
    public void Malformed_lines_are_rejected_with_their_line_number(string line)
    {
        var e = Assert.Throws<UsersFileException>(() => UserStore.ParseNames(U("# header\n" + line + "\n")));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Duplicate_users_are_rejected_case_insensitively()
    {
        string h = "$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        Assert.Throws<UsersFileException>(() => UserStore.ParseNames(U($"a:{h}\nA:{h}\n")));
    }

    [Fact]
    public void Blank_lines_comments_and_CRLF_are_accepted()
    {
        string h = "$pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        Assert.Equal(["a", "b"], UserStore.ParseNames(U($"\r\n# c\r\na:{h}\r\n  \nb:{h}")));
    }

    [Fact]
    public void Invalid_names_and_empty_passwords_cannot_be_added()
    {
        var store = NewStore();
        Assert.Throws<ArgumentException>(() => store.Add("a:b", U("pw")));
        Assert.Throws<ArgumentException>(() => store.Add("", U("pw")));
        Assert.Throws<ArgumentException>(() => store.Add("alice", U("")));
        Assert.False(File.Exists(UsersPath));
    }

    [Fact]
    public void Verify_credentials_refuses_a_foreign_authorization_identity_even_with_the_right_password()
    {
        var store = NewStore();
        store.Add("alice", U("pw"));
        using var own = SaslExchange.Create(AuthMechanism.Plain).Start(Encoding.ASCII.GetBytes(Convert.ToBase64String(U("alice\0alice\0pw")))).Credentials!;
        using var foreign = SaslExchange.Create(AuthMechanism.Plain).Start(Encoding.ASCII.GetBytes(Convert.ToBase64String(U("bob\0alice\0pw")))).Credentials!;
        Assert.True(store.Verify(own));
        Assert.False(store.Verify(foreign));
    }

    [Fact]
    public void No_temporary_files_are_left_behind_after_edits()
    {
        var store = NewStore();
        store.Add("a", U("1"));
        store.Add("b", U("2"));
        store.Delete("a");
        Assert.Equal(["users"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }
}

public class PasswordInputTests
{
    private static Func<ConsoleKeyInfo> Keys(string typed)
    {
        var q = new Queue<ConsoleKeyInfo>(typed.Select(c => c switch
        {
            '\n' => new ConsoleKeyInfo('\r', ConsoleKey.Enter, false, false, false),
            '\b' => new ConsoleKeyInfo('\b', ConsoleKey.Backspace, false, false, false),
            _ => new ConsoleKeyInfo(c, ConsoleKey.A, false, false, false),
        }));
        return q.Dequeue;
    }

    [Fact]
    public void From_a_pipe_the_first_line_is_the_password()
    {
        Assert.Equal("s3cret pass", PasswordInput.ReadPassword(new StringReader("s3cret pass\r\nignored\n"), isTerminal: false));
    }

    [Fact]
    public void On_a_terminal_keys_are_read_without_echo_and_backspace_edits()
    {
        var echo = new StringWriter();
        string pw = PasswordInput.ReadPassword(TextReader.Null, isTerminal: true, echo, Keys("pax\bss\n"));
        Assert.Equal("pass", pw);
        Assert.DoesNotContain("pa", echo.ToString().Replace("Password:", ""));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    public void An_empty_or_missing_password_is_refused(string input)
    {
        Assert.Throws<InvalidDataException>(() => PasswordInput.ReadPassword(new StringReader(input), isTerminal: false));
    }

    [Fact]
    public void A_password_longer_than_255_bytes_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => PasswordInput.ReadPassword(new StringReader(new string('x', 256)), isTerminal: false));
    }
}
