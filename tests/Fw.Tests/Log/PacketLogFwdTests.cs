using System.Text.Json;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Lab;
using Fw.Packets;
using Fw.Tests.Cli;
using Fw.Tests.Daemon;
using Xunit.Abstractions;

namespace Fw.Tests.Log;

/// <summary>
/// The packet log outlives its writers: `fwctl log` follows the interface while the real fwd (in the lab's fw
/// namespace) is stopped with SIGTERM (the filter stays), frames arrive with no fwd, a new fwd adopts the
/// interface, and `fwctl reload` swaps in another logging ruleset while frames stream in. The ring is pinned and
/// shared by every generation: the one reader gets every frame of every phase, named by the rule of its
/// generation. In the fwd collection: it runs alone.
/// </summary>
[Collection(FwdCollection.Name)]
public sealed class PacketLogFwdTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly Fw.Lab.Lab _lab = new(LabNaming.Unique);
    private readonly string _dir = Directory.CreateTempSubdirectory("fwd-log-").FullName;
    private readonly List<FwdProcess> _fwds = [];

    public void Dispose()
    {
        foreach (var f in _fwds)
            f.Dispose();
        try
        {
            _lab.Fw.Run(() =>
            {
                if (Directory.Exists(PinLayout.Dir(_lab.FwClientIf)))
                    Firewall.Detach(_lab.FwClientIf);
            });
        }
        finally
        {
            _lab.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private FwdProcess StartFwd(string rulesPath)
    {
        var fwd = _lab.Fw.Run(() => new FwdProcess(["--rules", rulesPath]));
        _fwds.Add(fwd);
        fwd.WaitReady();
        return fwd;
    }

    /// <summary>SSH frames from the client, each with its own source port (the record's key).</summary>
    private static Frame Ssh(ushort sport) => Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV4, LabNet.ServerV4, sport, 22));

    private static Frame Web(ushort sport) => Fw.Lab.Lab.FromClient(Frame.Tcp(LabNet.ClientV6, LabNet.ServerV6, sport, 80));

    /// <summary>Sends <paramref name="frames"/> in chunks of 10 (c0's queue stays short on a loaded machine).</summary>
    private void Send(IEnumerable<Frame> frames)
    {
        foreach (var chunk in frames.Chunk(10))
        {
            _lab.SendFromClient(chunk);
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void NoRecordIsLostAcrossAnFwdRestartAndAFwctlReload()
    {
        string iface = _lab.FwClientIf;
        string first = Path.Combine(_dir, "rules.yaml"), second = Path.Combine(_dir, "other.yaml");
        File.WriteAllText(first, $$"""
            interfaces: [{{iface}}]
            default: pass
            log:
              rate: 100000
            rules:
              - name: ssh
                proto: tcp
                dport: 22
                action: drop
                log: true
              - name: web
                proto: tcp
                dport: 80
                action: drop
            """);
        // Another ruleset: a rule before ssh (its index moves), web now logged.
        File.WriteAllText(second, $$"""
            interfaces: [{{iface}}]
            default: pass
            log:
              rate: 100000
            rules:
              - name: telnet
                proto: tcp
                dport: 23
                action: drop
                log: true
              - name: ssh
                proto: tcp
                dport: 22
                action: drop
                log: true
              - name: web
                proto: tcp
                dport: 80
                action: drop
                log: true
            """);

        var fwd = StartFwd(first);
        uint ring = _lab.Fw.Run(() => FdHandle.IdOfPinned(PinLayout.Log(iface)));
        // Phases: with fwd (100), with fwd stopped (50), with a new fwd (100), streaming through a fwctl reload (300,
        // below), after it (50 ssh, 50 web). Web frames before the reload are not logged.
        ushort port = 20000;
        ushort[] Ports(int n) => Enumerable.Range(0, n).Select(_ => port++).ToArray();
        var expectSsh = new List<ushort>();
        var phases = new[] { 100, 50, 100, 50 };
        int total = phases.Sum() + 300 + 50;
        var follower = LogFollower.Start(_lab.Fw, iface, "--json", "--count", total.ToString(), "--seconds", "240");

        var p1 = Ports(phases[0]);
        Send(p1.Select(Ssh).Concat(Ports(10).Select(Web)));
        expectSsh.AddRange(p1);
        fwd.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, fwd.WaitForExit(Wait));
        _lab.Fw.Run(() => Assert.True(Firewall.IsAttached(iface)));

        var p2 = Ports(phases[1]);
        Send(p2.Select(Ssh));
        expectSsh.AddRange(p2);

        var again = StartFwd(first);
        Assert.Contains($"adopt {iface}", again.Output);
        var p3 = Ports(phases[2]);
        Send(p3.Select(Ssh));
        expectSsh.AddRange(p3);

        // 300 frames stream through the reload: 100 before it starts, up to 150 while it runs, the last 50 once it
        // ended (some are decided by each generation).
        var p4 = Ports(300);
        expectSsh.AddRange(p4);
        using var started = new ManualResetEventSlim();
        using var reloaded = new ManualResetEventSlim();
        var streaming = Task.Factory.StartNew(() =>
        {
            var chunks = p4.Chunk(10).ToArray();
            for (int i = 0; i < chunks.Length; i++)
            {
                if (i == 10)
                    started.Set();
                if (i == 25 && !reloaded.Wait(Wait))
                    throw new TimeoutException("the reload did not end");
                _lab.SendFromClient(chunks[i].Select(Ssh).ToArray());
                Thread.Sleep(i >= 10 && !reloaded.IsSet ? 25 : 5);
            }
        }, TaskCreationOptions.LongRunning);
        Assert.True(started.Wait(Wait));
        var reload = _lab.Fw.Run(() => Fwctl.Run("reload", iface, "--rules", second));
        reloaded.Set();
        Assert.True(reload.Exit == 0, reload.Err);
        Assert.True(streaming.Wait(Wait));
        _lab.Fw.Run(() => Assert.Equal(ring, FdHandle.IdOfPinned(PinLayout.Log(iface))));   // the same ring

        var p5 = Ports(phases[3]);
        var web = Ports(50);
        Send(p5.Select(Ssh).Concat(web.Select(Web)));
        expectSsh.AddRange(p5);

        var (exit, stdout, stderr) = follower.Wait(TimeSpan.FromMinutes(4));
        Assert.True(exit == 0, $"fwctl log: exit {exit}: {stderr}");
        var got = LogFollower.JsonLines(stdout);
        var records = got.Select(r => (Rule: r.GetProperty("rule").GetString(), Index: r.GetProperty("rule_index").GetInt32(),
            Tcp: FrameParser.Parse(Convert.FromHexString(r.GetProperty("bytes").GetString()!)).Tcp!)).ToList();
        output.WriteLine($"{records.Count} records; {again.Output}");
        Assert.Equal(total, records.Count);
        var ssh = records.Where(r => r.Tcp.DstPort == 22).ToList();
        Assert.Equal(expectSsh, ssh.Select(r => r.Tcp.SrcPort));   // every one, in order
        Assert.All(ssh, r => Assert.Equal("ssh", r.Rule));
        // ssh was rule 0, then rule 1: the index is the deciding generation's.
        Assert.All(ssh.Take(phases[0] + phases[1] + phases[2] + 100), r => Assert.Equal(0, r.Index));
        Assert.All(ssh.TakeLast(50 + phases[3]), r => Assert.Equal(1, r.Index));
        var during = ssh.Skip(phases[0] + phases[1] + phases[2]).Take(p4.Length).ToList();
        output.WriteLine($"through the reload: {during.Count(r => r.Index == 0)} decided by the first generation, {during.Count(r => r.Index == 1)} by the second");
        var webs = records.Where(r => r.Tcp.DstPort == 80).ToList();
        Assert.Equal(web, webs.Select(r => r.Tcp.SrcPort));
        Assert.All(webs, r => Assert.Equal(("web", 2), (r.Rule, r.Index)));

        var stats = _lab.Fw.Run(() => StatsSnapshot.Read(iface));
        Assert.Equal(0UL, stats.LogBufferFull.Total.Packets + stats.LogOverRate.Total.Packets);
        again.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, again.WaitForExit(Wait));
    }
}
