using System.Diagnostics;
using System.Text.Json;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// Finding 5 of the hardening review: a filter that is gone but was reported attached. When the interface is
/// deleted and created again under its name, or a detach is killed between unlinking and removing the pins, the
/// pinned link is defunct and nothing filters: status says so, reload refuses, attach repairs.
/// </summary>
public sealed class DefunctTests() : VethCliTest("fwctl-defunct-")
{
    private string Rules() => Write("rules.yaml", "rules:\n  - name: ssh\n    proto: tcp\n    dport: 22\n    action: drop\n");

    private JsonElement Status() =>
        JsonDocument.Parse(Run("status", "--json").Out).RootElement.EnumerateArray().Single(r => r.GetProperty("interface").GetString() == Veth.Name);

    private static void Ip(params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ip {string.Join(' ', args)}: {err}");
    }

    private void AssertDefunctThenRepaired(string rules)
    {
        Assert.Equal(AttachState.Defunct, Firewall.StateOf(Veth.Name));
        Assert.False(Firewall.IsAttached(Veth.Name));
        var s = Status();
        Assert.False(s.GetProperty("attached").GetBoolean());
        Assert.Equal("defunct", s.GetProperty("state").GetString());
        Assert.Contains("nothing filters", Run("status").Out);

        var reload = Run("reload", Veth.Name, "--rules", rules);
        Assert.Equal(1, reload.Exit);
        Assert.Contains("attach", reload.Err);

        var attach = Run("attach", Veth.Name, "--rules", rules);
        Assert.True(attach.Exit == 0, attach.Err);
        Assert.True(Firewall.IsAttached(Veth.Name));
        Assert.Equal("attached", Status().GetProperty("state").GetString());
        Assert.NotEqual(0u, Firewall.AttachedProgramId(Veth.Name));
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(Veth.Name));
        Assert.Equal(XdpAction.Drop, BpfObject.TestRun(prog.Fd, Frame.Tcp("198.18.0.1", "198.18.0.2", 1, 22).Build()).Verdict);
    }

    [Fact]
    public void InterfaceCreatedAgainUnderItsName()
    {
        string rules = Rules();
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", rules).Exit);
        Assert.Equal("attached", Status().GetProperty("state").GetString());
        Ip("link", "del", Veth.Name);
        Ip("link", "add", Veth.Name, "type", "veth", "peer", "name", Veth.Peer);
        Ip("link", "set", Veth.Name, "up");
        AssertDefunctThenRepaired(rules);
    }

    [Fact]
    public void DetachKilledBetweenUnlinkingAndRemovingThePins()
    {
        string rules = Rules();
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", rules).Exit);
        // What a detach does before it removes the pins; killed there, it leaves this.
        using (var link = FdHandle.OpenPinned(PinLayout.Link(Veth.Name)))
            XdpLinks.Detach(link, Veth.Name);
        Assert.Equal(0u, Firewall.AttachedProgramId(Veth.Name));
        AssertDefunctThenRepaired(rules);
    }
}
