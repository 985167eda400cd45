using Fw.Bpf;
using Fw.Kernel;
using Fw.Lab;
using Fw.Tests.Lab;
using Xunit.Abstractions;

namespace Fw.Tests.Daemon;

/// <summary>
/// Connections survive a kill -9 of fwd: the real fwd runs in the lab's fw namespace with a stateful ruleset on
/// fw0 (the client's side, `default: drop`); the server holds a TCP connection open to the client. With fwd
/// killed, the XDP program, the flow table and the egress filter stay (pinned, attached): the connection still
/// echoes, a new one from the server still opens, one from the client is still refused. A new fwd adopts what
/// runs (the same table, the counters continue) and the connection still echoes.
/// In the fwd collection: it runs alone, so it does not load the machine under FwdTests' timing bounds.
/// </summary>
[Collection(FwdCollection.Name)]
public sealed class ConntrackFwdKillTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>What must get through gets 5 s (the suite loads both CPUs); what must not, 1 s.</summary>
    private static readonly TimeSpan Ample = TimeSpan.FromSeconds(5), Short = TimeSpan.FromSeconds(1);

    private readonly Fw.Lab.Lab _lab = new(LabNaming.Unique);
    private readonly string _dir = Directory.CreateTempSubdirectory("fwd-conntrack-").FullName;
    private readonly List<FwdProcess> _fwds = [];

    public void Dispose()
    {
        foreach (var f in _fwds)
            f.Dispose();   // kills a fwd still running
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
            _lab.Dispose();   // removes the veths and whatever fw left of them
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>fwd started from a thread inside the lab's fw namespace: the process is born there (fork inherits it).</summary>
    private FwdProcess StartFwd(string rulesPath)
    {
        var fwd = _lab.Fw.Run(() => new FwdProcess(["--rules", rulesPath]));
        _fwds.Add(fwd);
        string want = _lab.Fw.Run(() => new FileInfo("/proc/thread-self/ns/net").LinkTarget)!;
        Assert.Equal(want, new FileInfo($"/proc/{fwd.Pid}/ns/net").LinkTarget);
        return fwd;
    }

    [Fact]
    public void AConnectionOutlivesAKill9OfFwdAndANewFwdAdoptsIt()
    {
        string iface = _lab.FwClientIf;
        string rules = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(rules, $$"""
            interfaces: [{{iface}}]
            default: drop
            rules:
              - name: replies
                state: [established, related]
                action: pass
            """);

        var first = StartFwd(rules);
        first.WaitReady();
        Assert.Contains($"attach {iface}: generation 1", first.Output);
        uint table = _lab.Fw.Run(() =>
        {
            Assert.True(Firewall.IsAttached(iface));
            Assert.True(EgressTracker.IsAttached(iface));
            return FdHandle.IdOfPinned(PinLayout.Conntrack(iface));
        });

        using var conn = EchoConnection.Open(_lab, LabNet.ServerV4, LabNet.ClientV4, 8098, Ample);
        Assert.Null(conn.Echo("with fwd running\n"u8.ToArray(), Ample));
        var refused = _lab.Tcp(LabNet.ClientV4, LabNet.ServerV4, 8099, timeout: Short);
        Assert.False(refused.Connected, $"a connection from the client got through: {refused}");
        ulong repliesBefore = Replies(iface);
        Assert.True(repliesBefore > 0);

        first.Signal(FwdProcess.SigKill);
        Assert.Equal(137, first.WaitForExit(Wait));

        // fwd gone: everything it put in the kernel stays and works.
        _lab.Fw.Run(() =>
        {
            Assert.True(Firewall.IsAttached(iface));
            Assert.True(EgressTracker.IsAttached(iface));
            Assert.NotEqual(0u, TcFilter.QueryEgress(NetInterface.Index(iface), EgressTracker.Handle, EgressTracker.Priority));
            Assert.Equal(table, FdHandle.IdOfPinned(PinLayout.Conntrack(iface)));
        });
        Assert.Null(conn.Echo("with fwd killed\n"u8.ToArray(), Ample));
        var opened = _lab.Tcp(LabNet.ServerV4, LabNet.ClientV4, 8100, timeout: Ample);
        Assert.True(opened.Delivered, $"a new connection from the server with fwd killed: {opened}");
        refused = _lab.Tcp(LabNet.ClientV4, LabNet.ServerV4, 8101, timeout: Short);
        Assert.False(refused.Connected, $"a connection from the client got through with fwd killed: {refused}");
        ulong repliesKilled = Replies(iface);
        Assert.True(repliesKilled > repliesBefore, "the replies rule counted nothing with fwd killed");

        // A new fwd adopts it as it runs: the same generation and table, the counters continue.
        var second = StartFwd(rules);
        second.WaitReady();
        Assert.Contains($"adopt {iface}: generation 1 already runs this ruleset", second.Output);
        _lab.Fw.Run(() => Assert.Equal(table, FdHandle.IdOfPinned(PinLayout.Conntrack(iface))));
        Assert.True(Replies(iface) >= repliesKilled);
        Assert.Null(conn.Echo("with fwd back\n"u8.ToArray(), Ample));
        Assert.True(Replies(iface) > repliesKilled);

        second.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, second.WaitForExit(Wait));
        output.WriteLine(second.Output);
    }

    private ulong Replies(string iface) =>
        _lab.Fw.Run(() => StatsSnapshot.Read(iface)).Rules.Single(r => r.Name == "replies").Counter.Total.Packets;
}
