using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// An attached interface as read from its pins: metadata, the shared counters and the live
/// generation's rules. Works in any process, with or without fwd.
/// </summary>
public sealed class InterfaceState : IDisposable
{
    /// <param name="Ifindex">Where a redirect rule sends (the ifindex its target had when the generation was loaded); 0 for others.</param>
    /// <param name="Limited">The rule has a limit: its counter counts the packets over it (drop) or within it (a pass quota).</param>
    /// <param name="AddToSlot">add_to: the fw_sets slot of its live set; null: none.</param>
    public sealed record RuleInfo(int Index, string Name, RuleAction Action, uint Slot, int Ifindex = 0, bool Limited = false, int? AddToSlot = null);

    private InterfaceState(string iface, BpfMap metaMap, FwMeta meta, BpfMap stats, IReadOnlyList<RuleInfo> rules)
    {
        Interface = iface;
        MetaMap = metaMap;
        Meta = meta;
        Stats = stats;
        Rules = rules;
    }

    public string Interface { get; }
    public BpfMap MetaMap { get; }
    public FwMeta Meta { get; }
    public BpfMap Stats { get; }
    public IReadOnlyList<RuleInfo> Rules { get; }
    public string GenerationDir => PinLayout.Generation(Interface, Meta.Generation);

    /// <summary>
    /// Reads the interface's state. When fw_progs[0] does not run the generation fw_meta names (a reload
    /// killed between its commit and its switch, or caught in that instant), it takes the interface lock and,
    /// if they still disagree, finishes the switch (see <see cref="Firewall.Reload"/>), so what this returns
    /// always describes what classifies. A caller holding the lock on this thread (a reload) repairs at once.
    /// </summary>
    public static InterfaceState Open(string iface)
    {
        bool lockHeld = InterfaceLock.HeldByThisThread(iface);
        PinLayout.CheckRoot();
        if (!File.Exists(PinLayout.Meta(iface)))
            throw new FirewallException(iface, "read", FirewallError.NotAttached, $"{iface}: fw is not attached");
        var metaMap = BpfMap.OpenPinned(PinLayout.Meta(iface));
        BpfMap? stats = null;
        try
        {
            var meta = metaMap.Lookup<uint, FwMeta>(0);
            if (!RunsMetaGeneration(iface, meta))
            {
                if (lockHeld)
                {
                    Firewall.FinishSwitch(iface, meta.Generation);
                }
                else
                {
                    using var lk = InterfaceLock.Acquire(iface);
                    meta = metaMap.Lookup<uint, FwMeta>(0);   // a reload in that instant has finished meanwhile
                    if (!RunsMetaGeneration(iface, meta))
                        Firewall.FinishSwitch(iface, meta.Generation);
                }
            }
            stats = BpfMap.OpenPinned(PinLayout.Stats(iface));
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    return new InterfaceState(iface, metaMap, meta, stats, ReadRules(iface, meta));
                }
                catch (BpfException e) when (e.Errno == 2 && !lockHeld && attempt < 3
                    && metaMap.Lookup<uint, FwMeta>(0) is var now && now.Generation != meta.Generation)
                {
                    meta = now;   // a reload removed the generation we were reading: read the new one
                }
            }
        }
        catch
        {
            metaMap.Dispose();
            stats?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The directory of the generation that classifies, for a caller holding the interface's lock (a switch left
    /// unfinished is finished first, as <see cref="Open"/> does): a few reads, no rules.
    /// </summary>
    internal static string LiveGenerationDir(string iface)
    {
        if (!InterfaceLock.HeldByThisThread(iface))
            throw new InvalidOperationException($"{iface}: the interface lock is not held");
        PinLayout.CheckRoot();
        if (!File.Exists(PinLayout.Meta(iface)))
            throw new FirewallException(iface, "read", FirewallError.NotAttached, $"{iface}: fw is not attached");
        using var metaMap = BpfMap.OpenPinned(PinLayout.Meta(iface));
        var meta = metaMap.Lookup<uint, FwMeta>(0);
        if (!RunsMetaGeneration(iface, meta))
            Firewall.FinishSwitch(iface, meta.Generation);
        return PinLayout.Generation(iface, meta.Generation);
    }

    private static bool RunsMetaGeneration(string iface, FwMeta meta)
    {
        uint live = Firewall.LiveProgramId(iface);
        return live != 0 && live == Firewall.GenerationProgramId(iface, meta.Generation);
    }

    private static List<RuleInfo> ReadRules(string iface, FwMeta meta)
    {
        string gen = PinLayout.Generation(iface, meta.Generation);
        var rules = new List<RuleInfo>();
        if (meta.Rules > 0)
        {
            using var rm = BpfMap.OpenPinned($"{gen}/fw_rules");
            using var nm = BpfMap.OpenPinned($"{gen}/fw_rule_names");
            for (uint i = 0; i < meta.Rules; i++)
            {
                var r = rm.Lookup<uint, FwRule>(i);
                var n = nm.Lookup<uint, FwRuleName>(i);
                rules.Add(new RuleInfo((int)i, n.ToString(), (RuleAction)r.Action, r.StatSlot, (int)r.Ifindex,
                    (r.Flags & FwRule.Limit) != 0, (r.Flags & FwRule.AddTo) != 0 ? r.AddSet : null));
            }
        }
        return rules;
    }

    /// <summary>
    /// The live generation's connection-tracking settings (its fw_ct_conf), or null when the generation was pinned
    /// by a build without them.
    /// </summary>
    public FwCtConf? ConntrackConf()
    {
        string path = Path.Combine(GenerationDir, "fw_ct_conf");
        if (!File.Exists(path))
            return null;
        using var map = BpfMap.OpenPinned(path);
        return map.Lookup<uint, FwCtConf>(0);
    }

    /// <summary>One slot of fw_stats, per CPU.</summary>
    public FwCounter[] Counter(uint slot) => Stats.LookupPerCpu<uint, FwCounter>(slot);

    public void Dispose()
    {
        MetaMap.Dispose();
        Stats.Dispose();
    }
}
