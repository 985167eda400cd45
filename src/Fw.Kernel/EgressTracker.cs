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

    /// <summary>
    /// Loads fw_egress with the timeouts, sharing <paramref name="table"/>, and puts it at the interface's egress. Its
    /// program is pinned twice: as the interface's running one, and in the generation it belongs to, so a revert to
    /// that generation puts it back (<see cref="Restore"/>).
    /// </summary>
    /// <param name="stats">The interface's fw_stats, where the program counts its inserts.</param>
    public static void Attach(string iface, int ifindex, ConntrackSettings settings, BpfMap table, BpfMap stats, string generationDir)
    {
        using var obj = BpfObject.Open(ObjectPath);
        obj.ReuseMap("fw_stats", stats);
        foreach (string key in ConntrackSettings.TimeoutKeys)
            obj.SetGlobal($"fw_ct_timeout_{key}", settings.Timeout(key));
        obj.ReuseMap(Classifier.ConntrackMap, table);
        obj.Load();
        string genPin = Path.Combine(generationDir, GenerationPin);
        File.Delete(genPin);
        obj.PinProgram(Program, genPin);
        Hooked(iface, TcFilter.AttachEgress(ifindex, obj.ProgramFd(Program), Handle, Priority, iface));
        string pin = PinLayout.Egress(iface);
        File.Delete(pin);   // the program it replaced (the filter holds the running one)
        obj.PinProgram(Program, pin);
    }

    /// <summary>
    /// /run/fw/IFACE.clsact: fw made the interface's clsact qdisc (it had none), so detaching removes it again and leaves
    /// the interface as it found it. A qdisc that was there before fw stays, with whatever else is on it.
    /// </summary>
    public static string ClsactMarker(string iface) => Path.Combine(PinLayout.LockDir, InterfaceName.Checked(iface) + ".clsact");

    private static void Hooked(string iface, bool created)
    {
        if (!created)
            return;
        OwnDirectory.Ensure(PinLayout.LockDir);
        string path = ClsactMarker(iface);
        File.Delete(path);   // unlinks, never follows
        using var marker = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            Options = FileOptions.None,
        });
    }

    /// <summary>The name of a generation's egress program in its directory.</summary>
    public const string GenerationPin = "egress";

    /// <summary>
    /// Makes the egress side what generation <paramref name="generationDir"/> had: its pinned program back on the
    /// filter, or no filter when it named no state.
    /// </summary>
    public static void Restore(string iface, string generationDir)
    {
        string genPin = Path.Combine(generationDir, GenerationPin);
        if (!File.Exists(genPin))
        {
            if (IsAttached(iface))
                Detach(iface);
            return;
        }
        using var prog = FdHandle.OpenPinned(genPin);
        Hooked(iface, TcFilter.AttachEgress(NetInterface.Index(iface), prog.Fd, Handle, Priority, iface));
        string pin = PinLayout.Egress(iface);
        File.Delete(pin);
        prog.Pin(pin);
    }

    /// <summary>Removes the filter (when the interface is still there), the clsact qdisc if fw made it, and the pin.</summary>
    public static void Detach(string iface)
    {
        string marker = ClsactMarker(iface);
        if (NetInterface.TryIndex(iface) is var ifindex and > 0)
        {
            TcFilter.DetachEgress(ifindex, Handle, Priority, iface);
            if (File.Exists(marker))
                TcFilter.RemoveClsact(ifindex, iface);   // fw made it: the interface goes back as fw found it
        }
        File.Delete(marker);
        File.Delete(PinLayout.Egress(iface));
    }
}
