using System.Diagnostics;
using System.Text.Json;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Tests.Rules;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Log;

/// <summary>fwctl log in-process on an attached veth, frames run with BPF_PROG_TEST_RUN: JSON lines, --rule, --count, --seconds, -w, usage errors.</summary>
public sealed class LogCommandTests : IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fwctl-log-").FullName;

    public LogCommandTests() => TestVeth.Ip("link", "set", _veth.Peer, "down");   // nothing arrives but what the test runs

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private const string Rules = """
        log:
          default: true
        rules:
          - name: ssh
            proto: tcp
            dport: 22
            action: drop
            log: true
          - name: dns
            proto: udp
            dport: 53
            action: pass
            log: true
        """;

    private void Live(Frame f)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        BpfObject.TestRun(prog.Fd, f.Build());
    }

    /// <summary>Runs fwctl log on a thread, waits until it reads, runs <paramref name="frames"/>, and returns its result.</summary>
    private (int Exit, string Out, string Err) Follow(string[] args, params Frame[] frames)
    {
        var task = Task.Run(() => Run(["log", _veth.Name, .. args]));
        var sw = Stopwatch.StartNew();
        while (!File.Exists(PacketLog.ReaderLockPath(_veth.Name)) || !IsLocked())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "fwctl log did not start reading");
            Thread.Sleep(20);
        }
        foreach (var f in frames)
            Live(f);
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), "fwctl log did not stop");
        return task.Result;
    }

    private bool IsLocked()
    {
        try
        {
            using var probe = FileLock.Acquire(PacketLog.ReaderLockPath(_veth.Name), TimeSpan.Zero, "probe");
            return false;
        }
        catch (BpfException)
        {
            return true;
        }
    }

    [Fact]
    public void JsonLinesForTheRulesAsked()
    {
        Firewall.Attach(_veth.Name, RulesetCompiler.Compile(RulesTestKit.ParseOk(Rules)), new ImageOrigin("/dev/null", 0), XdpMode.Native);
        var ssh = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22);
        var dns = Frame.Udp("2001:db8::1", "2001:db8::53", 5353, 53);
        var other = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 443);
        var (rc, stdout, stderr) = Follow(["--json", "--count", "2", "--rule", "dns", "--rule", "default"], ssh, dns, other, ssh);
        Assert.True(rc == 0, stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        var d = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(("pass", "rule", "dns", 1), (d.GetProperty("verdict").GetString(), d.GetProperty("reason").GetString(),
            d.GetProperty("rule").GetString(), d.GetProperty("rule_index").GetInt32()));
        Assert.Equal(dns.Build().Length, d.GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(dns.Build()), d.GetProperty("bytes").GetString());
        Assert.StartsWith("IP6 2001:db8::1.5353 > 2001:db8::53.53: udp", d.GetProperty("summary").GetString());
        var o = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(("pass", "default"), (o.GetProperty("verdict").GetString(), o.GetProperty("reason").GetString()));
        Assert.Equal(JsonValueKind.Null, o.GetProperty("rule").ValueKind);
        Assert.True(DateTimeOffset.Parse(o.GetProperty("time").GetString()!) > DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public void TextLinesAndAPcapThatTcpdumpReads()
    {
        Firewall.Attach(_veth.Name, RulesetCompiler.Compile(RulesTestKit.ParseOk(Rules)), new ImageOrigin("/dev/null", 0), XdpMode.Native);
        var ssh = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22);
        var (rc, stdout, stderr) = Follow(["--count", "1"], ssh);
        Assert.True(rc == 0, stderr);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z DROP +ssh +IP 198\.18\.0\.1\.40000 > 192\.0\.2\.10\.22: tcp SYN", stdout);

        string pcap = Path.Combine(_dir, "log.pcap");
        (rc, _, stderr) = Follow(["-w", pcap, "--count", "2"], ssh, Frame.Udp("198.18.0.1", "192.0.2.10", 5353, 53));
        Assert.True(rc == 0, stderr);
        Assert.Contains("2 frames written", stderr);
        var p = Process.Start(new ProcessStartInfo("tcpdump", ["-nr", pcap]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string decoded = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Contains("198.18.0.1.40000 > 192.0.2.10.22", decoded);
        Assert.Contains("198.18.0.1.5353 > 192.0.2.10.53", decoded);
    }

    [Fact]
    public void SecondsStopsItAndBadArgumentsAreUsageErrors()
    {
        Firewall.Attach(_veth.Name, RulesetCompiler.Compile(RulesTestKit.ParseOk(Rules)), new ImageOrigin("/dev/null", 0), XdpMode.Native);
        var sw = Stopwatch.StartNew();
        var (rc, stdout, _) = Run("log", _veth.Name, "--seconds", "0.5");
        Assert.Equal(0, rc);
        Assert.Equal("", stdout);
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(10));
        Assert.Equal(2, Run("log", _veth.Name, "--count", "0").Exit);
        Assert.Equal(2, Run("log", _veth.Name, "--seconds", "-1").Exit);
        Assert.Equal(2, Run("log", _veth.Name, "--json", "-w", Path.Combine(_dir, "x.pcap")).Exit);
        Assert.False(File.Exists(Path.Combine(_dir, "x.pcap")));
        Assert.Equal(2, Run("log", "../etc").Exit);
    }
}
