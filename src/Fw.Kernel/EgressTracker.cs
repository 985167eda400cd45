using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// The flow table's egress side (bpf/fw_egress.bpf.c): a TC egress filter that starts or refreshes the flow of every
/// frame leaving the interface, on while the ruleset names state or track. One filter per interface, at a fixed
/// handle and priority, replaced in place when a reload changes the timeouts; its program pinned as `egress`.
/// </summary>
public static class EgressTracker
{
    public const string Program = "fw_egress";

    /// <summary>fw's filter on the clsact egress hook: handle 0xf1, priority 1.</summary>
    public const uint Handle = 0xf1, Priority = 1;

    public static string ObjectPath => Classifier.DefaultObjectPath("fw_egress.bpf.o");

    public static bool IsAttached(string iface) => File.Exists(PinLayout.Egress(iface));

    /// <summary>Loads fw_egress with the timeouts, sharing <paramref name="table"/>, and puts it at the interface's egress.</summary>
    /// <param name="stats">The interface's fw_stats, where the program counts its inserts.</param>
    public static void Attach(string iface, int ifindex, ConntrackSettings settings, BpfMap table, BpfMap stats)
    {
        using var obj = BpfObject.Open(ObjectPath);
        obj.ReuseMap("fw_stats", stats);
        foreach (string key in ConntrackSettings.TimeoutKeys)
            obj.SetGlobal($"fw_ct_timeout_{key}", settings.Timeout(key));
        obj.ReuseMap(Classifier.ConntrackMap, table);
        obj.Load();
        TcFilter.AttachEgress(ifindex, obj.ProgramFd(Program), Handle, Priority, iface);
        string pin = PinLayout.Egress(iface);
        File.Delete(pin);   // the program it replaced (the filter holds the running one)
        obj.PinProgram(Program, pin);
    }

    /// <summary>Removes the filter (when the interface is still there) and its pin.</summary>
    public static void Detach(string iface)
    {
        if (NetInterface.TryIndex(iface) is var ifindex and > 0)
            TcFilter.DetachEgress(ifindex, Handle, Priority, iface);
        File.Delete(PinLayout.Egress(iface));
    }
}
