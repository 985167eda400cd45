using System.Text.Json;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Bpf;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>fwctl attach, reload, detach, stats and status end to end on a veth, text and JSON.</summary>
public sealed class OperateCommandTests : IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fwctl-op-").FullName;

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Write(string yaml)
    {
        string path = Path.Combine(_dir, $"rules-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string Rules = "rules:\n  - name: ssh\n    proto: tcp\n    dport: 22\n    action: drop\n  - name: dns\n    proto: udp\n    dport: 53\n    action: pass\n";

    private void Send(byte[] frame, int times)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        for (int i = 0; i < times; i++)
            BpfObject.TestRun(prog.Fd, frame);
    }

    [Fact]
    public void AttachStatsReloadStatusDetach()
    {
        string v1 = Write(Rules);
        var (rc, stdout, stderr) = Run("attach", _veth.Name, "--rules", v1);
        Assert.True(rc == 0, stderr);
        Assert.Matches($@"^{_veth.Name}: attached .*: generation 1, native XDP, 2 rules, 0 prefixes \([\d,]+ ms\)", stdout);

        var again = Run("attach", _veth.Name, "--rules", v1);
        Assert.Equal(1, again.Exit);
        Assert.Contains("already attached", again.Err);
        Assert.Contains("reload", again.Err);

        byte[] ssh = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 22).Build();
        byte[] other = Frame.Udp("198.18.0.1", "198.18.0.2", 1, 9).Build();
        Send(ssh, 5);
        Send(other, 2);

        (rc, stdout, _) = Run("stats", _veth.Name);
        Assert.Equal(0, rc);
        Assert.Matches(@"(?m)^ssh\s+drop\s+5\s+" + (5 * ssh.Length).ToString("N0"), stdout);
        Assert.Matches(@"(?m)^dns\s+pass\s+0\s+0", stdout);
        Assert.Matches(@"(?m)^\(default\)\s+pass\s+2\s+", stdout);
        Assert.Matches(@"(?m)^drop\s+5\s+", stdout);

        (rc, stdout, _) = Run("stats", _veth.Name, "--json", "--per-cpu");
        using (var doc = JsonDocument.Parse(stdout))
        {
            var o = doc.RootElement;
            Assert.Equal(_veth.Name, o.GetProperty("interface").GetString());
            Assert.Equal(1UL, o.GetProperty("generation").GetUInt64());
            Assert.Equal(5UL, o.GetProperty("totals").GetProperty("drop").GetProperty("packets").GetUInt64());
            Assert.Equal((ulong)(5 * ssh.Length), o.GetProperty("totals").GetProperty("drop").GetProperty("bytes").GetUInt64());
            Assert.True(o.GetProperty("totals").GetProperty("pass").GetProperty("packets").GetUInt64() >= 2);
            Assert.Equal(BpfMap.PossibleCpus, o.GetProperty("per_cpu").GetArrayLength());
            ulong cpuDrops = 0;
            foreach (var c in o.GetProperty("per_cpu").EnumerateArray())
            {
                Assert.True(c.TryGetProperty("cpu", out _) && c.TryGetProperty("redirect", out _));
                cpuDrops += c.GetProperty("drop").GetProperty("packets").GetUInt64();
            }
            Assert.Equal(5UL, cpuDrops);
            var rule = o.GetProperty("rules")[0];
            Assert.Equal("ssh", rule.GetProperty("name").GetString());
            Assert.Equal("drop", rule.GetProperty("action").GetString());
            Assert.Equal(5UL, rule.GetProperty("packets").GetUInt64());
            Assert.Equal(5UL, rule.GetProperty("per_cpu").EnumerateArray().Aggregate(0UL, (s, x) => s + x.GetUInt64()));
            Assert.True(o.GetProperty("default").GetProperty("packets").GetUInt64() >= 2);
            Assert.Equal(0UL, o.GetProperty("malformed").GetProperty("packets").GetUInt64());
            Assert.True(o.TryGetProperty("non_ip", out _));
        }

        // Reload keeps ssh's counter; a bad file changes nothing and says where.
        string v2 = Write(Rules.Replace("dport: 53", "dport: 5353"));
        (rc, stdout, stderr) = Run("reload", _veth.Name, "--rules", v2, "--json");
        Assert.True(rc == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
            Assert.Equal(2UL, doc.RootElement.GetProperty("generation").GetUInt64());
        string bad = Write("rules:\n  - action: dorp\n");
        (rc, stdout, stderr) = Run("reload", _veth.Name, "--rules", bad);
        Assert.Equal(2, rc);
        Assert.Contains($"{bad}:2:13: error: unknown action 'dorp'", stderr);
        Assert.Contains("unchanged", stderr);
        (rc, stdout, _) = Run("stats", _veth.Name, "-j");
        using (var doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(2UL, doc.RootElement.GetProperty("generation").GetUInt64());
            Assert.Equal(5UL, doc.RootElement.GetProperty("rules")[0].GetProperty("packets").GetUInt64());
        }

        (rc, stdout, _) = Run("status");
        Assert.Equal(0, rc);
        Assert.Matches($@"(?m)^{_veth.Name}\s+native\s+2\s+2\s+0\s+\S+Z\s+{System.Text.RegularExpressions.Regex.Escape(v2)}\s+[0-9a-f]{{12}}$", stdout);
        (rc, stdout, _) = Run("status", "--json");
        using (var doc = JsonDocument.Parse(stdout))
        {
            var s = doc.RootElement.EnumerateArray().Single(e => e.GetProperty("interface").GetString() == _veth.Name);
            Assert.Equal("native", s.GetProperty("mode").GetString());
            Assert.Equal(2UL, s.GetProperty("generation").GetUInt64());
            Assert.Equal(v2, s.GetProperty("rules_file").GetString());
            Assert.Equal(64, s.GetProperty("digest").GetString()!.Length);
            Assert.Equal(2, s.GetProperty("rules").GetInt32());
            Assert.True(s.GetProperty("attached").GetBoolean());
        }

        (rc, stdout, _) = Run("stats", _veth.Name, "--watch", "0.1", "--iterations", "2");
        Assert.Equal(0, rc);
        Assert.Contains("RATE", stdout);
        Assert.Contains("\x1b[H\x1b[2J", stdout);

        (rc, stdout, _) = Run("detach", _veth.Name);
        Assert.Equal(0, rc);
        Assert.Equal($"{_veth.Name}: detached", stdout.Trim());
        Assert.False(Directory.Exists(PinLayout.Dir(_veth.Name)));
        Assert.Equal(0u, Firewall.AttachedProgramId(_veth.Name));
        var gone = Run("stats", _veth.Name, "--json");
        Assert.Equal(1, gone.Exit);
        using (var doc = JsonDocument.Parse(gone.Out))
            Assert.Contains("not attached", doc.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void ClearErrors()
    {
        var noIface = Run("attach", "fwnosuch0", "--rules", Write(Rules));
        Assert.Equal(1, noIface.Exit);
        Assert.Contains("fwnosuch0: no such interface", noIface.Err);

        string bad = Write("rules:\n  - proto: tcp\n    dport: 70000\n    action: drop\n");
        var invalid = Run("attach", _veth.Name, "--rules", bad);
        Assert.Equal(2, invalid.Exit);
        Assert.Contains($"{bad}:3:12: error:", invalid.Err);
        Assert.False(Directory.Exists(PinLayout.Dir(_veth.Name)));
        Assert.Equal(0u, Firewall.AttachedProgramId(_veth.Name));

        var notAttached = Run("reload", _veth.Name, "--rules", Write(Rules));
        Assert.Equal(1, notAttached.Exit);
        Assert.Contains("not attached", notAttached.Err);
        Assert.Equal(1, Run("detach", _veth.Name).Exit);
        Assert.Equal(2, Run("attach", _veth.Name, "--rules", Write(Rules), "--mode", "turbo").Exit);
        Assert.Equal(2, Run("attach", _veth.Name).Exit);   // --rules is required
    }

    [Fact]
    public void GenericModeOnRequest()
    {
        var (rc, stdout, stderr) = Run("attach", _veth.Name, "--rules", Write(Rules), "--mode", "generic");
        Assert.True(rc == 0, stderr);
        Assert.Contains("generic XDP", stdout);
        var (_, status, _) = Run("status", "--json");
        using var doc = JsonDocument.Parse(status);
        Assert.Equal("generic", doc.RootElement.EnumerateArray().Single(e => e.GetProperty("interface").GetString() == _veth.Name)
            .GetProperty("mode").GetString());
    }
}
