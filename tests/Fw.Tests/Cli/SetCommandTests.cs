using System.Text;
using System.Text.Json;
using Fw.Cli;
using Fw.Kernel;
using Fw.Tests.LiveSets;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// fwctl set on a real attached veth: list (text and JSON), add/del/flush/sync summaries, invalid prefixes and lines
/// (exit 2, nothing changed, sync's at file:line:col), an unknown set, a full set, sync from a file and from stdin.
/// </summary>
public sealed class SetCommandTests : VethCliTest
{
    public SetCommandTests() : base("fw-setcmd-") => LiveSetRules.Attach(Veth.Name, LiveSetRules.Rules(bannedMax: 131_072));

    private string Iface => Veth.Name;

    private List<string> Entries(string set) =>
        Assert.Single(Fw.Kernel.LiveSets.List(Iface, set)).Entries.Select(e => e.Prefix.ToString()).Order(StringComparer.Ordinal).ToList();

    private static (int Exit, string Out, string Err) RunStdin(string input, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = FwctlApp.Run(args, o, e, () => new MemoryStream(Encoding.UTF8.GetBytes(input)));
        return (rc, o.ToString().ReplaceLineEndings("\n"), e.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void AddsListsDeletesAndFlushes()
    {
        var (rc, stdout, stderr) = Run("set", "add", Iface, "banned", "198.18.0.5", "2001:db8::/32");
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{Iface} banned: added 2, refreshed 0, removed 0\n", stdout);
        (rc, stdout, stderr) = Run("set", "add", Iface, "banned", "198.18.0.5/32", "192.0.2.0/24", "--timeout", "0");
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{Iface} banned: added 1, refreshed 1, removed 0\n", stdout);

        (rc, stdout, stderr) = Run("set", "list", Iface);
        Assert.True(rc == 0, stderr);
        Assert.Contains("allow: 0 of 4 entries, no timeout; 0 added, 0 refreshed, 0 refused (full), 0 expired, 0 removed", stdout);
        Assert.Contains("banned: 3 of 131,072 entries, timeout 10m00s; 3 added, 0 refreshed, 0 refused (full), 0 expired, 0 removed", stdout);
        Assert.Matches(@"PREFIX\s+EXPIRES IN\n192\.0\.2\.0/24\s+never\n198\.18\.0\.5/32\s+never\n2001:db8::/32\s+(9m5\d|10m00)s\n", stdout);

        (rc, stdout, stderr) = Run("set", "list", Iface, "banned", "--json");
        Assert.True(rc == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            var root = doc.RootElement;
            Assert.Equal(Iface, root.GetProperty("interface").GetString());
            var set = Assert.Single(root.GetProperty("sets").EnumerateArray());
            Assert.Equal("banned", set.GetProperty("name").GetString());
            Assert.Equal(3, set.GetProperty("size").GetInt32());
            Assert.Equal(131_072, set.GetProperty("max").GetInt32());
            Assert.Equal(600, set.GetProperty("timeout").GetInt32());
            var counters = set.GetProperty("counters");
            Assert.Equal(["added", "refreshed", "full", "expired", "removed"], counters.EnumerateObject().Select(p => p.Name));
            Assert.Equal(3, counters.GetProperty("added").GetInt32());
            Assert.Equal(0, counters.GetProperty("refreshed").GetInt32());   // the data plane's add_to renewals only
            var entries = set.GetProperty("entries").EnumerateArray().ToList();
            Assert.Equal(["192.0.2.0/24", "198.18.0.5/32", "2001:db8::/32"], entries.Select(e => e.GetProperty("prefix").GetString()));
            Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("expires_in").ValueKind);
            Assert.InRange(entries[2].GetProperty("expires_in").GetInt32(), 590, 600);
        }
        (_, stdout, _) = Run("set", "list", Iface, "allow", "-j");
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(stdout).RootElement.GetProperty("sets")[0].GetProperty("timeout").ValueKind);

        (rc, stdout, stderr) = Run("set", "del", Iface, "banned", "198.18.0.5", "203.0.113.9", "--json");
        Assert.True(rc == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(0, doc.RootElement.GetProperty("added").GetInt32());
            Assert.Equal(0, doc.RootElement.GetProperty("refreshed").GetInt32());
            Assert.Equal(1, doc.RootElement.GetProperty("removed").GetInt32());
        }
        (rc, stdout, stderr) = Run("set", "flush", Iface, "banned");
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{Iface} banned: added 0, refreshed 0, removed 2\n", stdout);
        Assert.Empty(Entries("banned"));
    }

    [Fact]
    public void AnInvalidPrefixIsAUsageErrorAndChangesNothing()
    {
        Run("set", "add", Iface, "banned", "198.18.0.1");
        var (rc, stdout, stderr) = Run("set", "add", Iface, "banned", "198.18.0.2", "10.0.0.1/8", "nonsense");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Equal("", stdout);
        Assert.Contains("host bits set in '10.0.0.1/8'; did you mean 10.0.0.0/8?", stderr);
        Assert.Contains("'nonsense' is not an IP address or prefix", stderr);
        Assert.Equal(["198.18.0.1/32"], Entries("banned"));

        (rc, stdout, _) = Run("set", "del", Iface, "banned", "198.18.0.1", "300.0.0.1", "--json");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("300.0.0.1", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
        Assert.Equal(["198.18.0.1/32"], Entries("banned"));

        (rc, _, stderr) = Run("set", "add", Iface, "banned", "198.18.0.3", "--timeout", "-5");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("--timeout", stderr);
        (rc, _, stderr) = Run("set", "flush", Iface, "../banned");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("SET:", stderr);
        (rc, _, _) = Run("set", "frob", Iface, "banned");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Equal(["198.18.0.1/32"], Entries("banned"));
    }

    [Fact]
    public void AnUnknownSetNamesTheSetsThereAre()
    {
        var (rc, stdout, stderr) = Run("set", "add", Iface, "nosuch", "192.0.2.1", "--json");
        Assert.Equal(FwctlApp.ExitFailure, rc);
        Assert.Contains($"fwctl: {Iface}: no live set 'nosuch' (its live sets: allow, banned)", stderr);
        Assert.Equal($"{Iface}: no live set 'nosuch' (its live sets: allow, banned)", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
        (rc, _, stderr) = Run("set", "list", Iface, "nosuch");
        Assert.Equal(FwctlApp.ExitFailure, rc);
        Assert.Contains("no live set 'nosuch'", stderr);
    }

    [Fact]
    public void AFullSetSaysHowManyWentIn()
    {
        var (rc, stdout, stderr) = Run("set", "add", Iface, "allow", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "--json");
        Assert.Equal(FwctlApp.ExitFailure, rc);
        Assert.Contains($"{Iface}: live set 'allow' is full (4 entries): 4 of 6 prefixes went in, 2 refused", stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(4, doc.RootElement.GetProperty("added").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("refused").GetInt32());
        Assert.Equal(4, Entries("allow").Count);
    }

    [Fact]
    public void SyncReadsAFileAndRefusesAnyBadLineAtItsPlace()
    {
        Run("set", "add", Iface, "banned", "198.18.0.1", "198.18.0.2");
        string bad = Write("bad.txt", "# feed\n198.18.0.2\n  10.1.2.3/8  # host bits\n2001:db8::/32\nnot-an-ip\n");
        var (rc, stdout, stderr) = Run("set", "sync", Iface, "banned", "--file", bad);
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Equal("", stdout);
        Assert.Contains($"{bad}:3:3: error: host bits set in '10.1.2.3/8'; did you mean 10.0.0.0/8?", stderr);
        Assert.Contains("  10.1.2.3/8  # host bits\n  ^~~~~~~~~~\n", stderr);
        Assert.Contains($"{bad}:5:1: error: 'not-an-ip' is not an IP address or prefix", stderr);
        Assert.Contains($"fwctl: set sync: 2 errors in {bad}; banned of {Iface} not changed", stderr);
        Assert.Equal(["198.18.0.1/32", "198.18.0.2/32"], Entries("banned"));

        (rc, stdout, _) = Run("set", "sync", Iface, "banned", "--file", bad, "--json");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        using (var doc = JsonDocument.Parse(stdout))
        {
            var diags = doc.RootElement.GetProperty("diagnostics").EnumerateArray().ToList();
            Assert.Equal([3, 5], diags.Select(d => d.GetProperty("line").GetInt32()));
            Assert.Equal(3, diags[0].GetProperty("column").GetInt32());
        }

        string good = Write("good.txt", "# feed\n198.18.0.2\n10.0.0.0/8 # a net\n\n2001:db8::/32\n");
        (rc, stdout, stderr) = Run("set", "sync", Iface, "banned", "--file", good);
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{Iface} banned: added 2, refreshed 1, removed 1\n", stdout);
        Assert.Equal(["10.0.0.0/8", "198.18.0.2/32", "2001:db8::/32"], Entries("banned"));

        (rc, _, stderr) = Run("set", "sync", Iface, "banned", "--file", Path.Combine(Dir, "missing.txt"));
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("no such file", stderr);
        (rc, _, stderr) = Run("set", "sync", Iface, "banned", "--file", "/dev/zero");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("not a regular file", stderr);
        Assert.Equal(3, Entries("banned").Count);
    }

    [Fact]
    public void SyncReadsStandardInput()
    {
        var (rc, stdout, stderr) = RunStdin("192.0.2.7\n192.0.2.8\n", "set", "sync", Iface, "allow", "--file", "-", "--json");
        Assert.True(rc == 0, stderr);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("added").GetInt32());
        Assert.Equal(["192.0.2.7/32", "192.0.2.8/32"], Entries("allow"));

        (rc, _, stderr) = RunStdin("192.0.2.7\n192.0.2.9/31\n", "set", "sync", Iface, "allow", "--file", "-");
        Assert.Equal(FwctlApp.ExitUsage, rc);
        Assert.Contains("<stdin>:2:1: error: host bits set in '192.0.2.9/31'", stderr);
        Assert.Equal(["192.0.2.7/32", "192.0.2.8/32"], Entries("allow"));
    }

    [Fact]
    public void StdinThatNeverEndsIsRefusedInTime()
    {
        using var stalled = new StalledStream("192.0.2.1\n"u8.ToArray());
        var result = Fw.Rules.PrefixList.ReadStream(stalled, "<stdin>", TimeSpan.FromMilliseconds(300));
        Assert.True(result.HasErrors);
        Assert.Contains("<stdin>: the list did not end within 0 s (10 bytes read)", Assert.Single(result.Diagnostics).ToString());
        Assert.Empty(result.Prefixes);
    }

    /// <summary>A stream that gives its bytes, then blocks until disposed (a writer that stalls).</summary>
    private sealed class StalledStream(byte[] head) : Stream
    {
        private readonly ManualResetEventSlim _released = new();
        private bool _given;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (!_given)
            {
                _given = true;
                head.CopyTo(buffer, offset);
                return head.Length;
            }
            _released.Wait();
            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            _released.Set();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void AnInterfaceWithoutFwIsAFailure()
    {
        Firewall.Detach(Iface);
        var (rc, stdout, stderr) = Run("set", "list", Iface, "--json");
        Assert.Equal(FwctlApp.ExitFailure, rc);
        Assert.Contains("fw is not attached", stderr);
        Assert.Contains("not attached", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void SyncOfAHundredThousandLinesLeavesExactlyTheList()
    {
        var hosts = LiveSetRules.Hosts(0, 100_000);
        var text = new StringBuilder("# generated\n");
        foreach (var h in hosts)
            text.Append(h.ToIPAddress()).Append('\n');
        string file = Write("feed.txt", text.ToString());
        Run("set", "add", Iface, "banned", "198.18.0.1");
        var (rc, stdout, stderr) = Run("set", "sync", Iface, "banned", "--file", file);
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{Iface} banned: added 100,000, refreshed 0, removed 1\n", stdout);
        Assert.Equal(hosts.Select(h => h.ToString()).Order(StringComparer.Ordinal), Entries("banned"));
    }
}
