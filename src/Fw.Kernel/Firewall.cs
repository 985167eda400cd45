using System.Diagnostics;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Kernel;

public enum XdpMode
{
    Auto = 0,
    Native = 1,
    Generic = 2,
}

/// <summary>What an attach or reload did.</summary>
public sealed record ChangeResult(string Interface, ulong Generation, XdpMode Mode, bool FellBackToGeneric, TimeSpan Took);

/// <summary>
/// The appliance's kernel operations on one interface: attach, atomic reload, detach. All state is
/// pinned (see <see cref="PinLayout"/>), so any process can pick up where another left off; every
/// change holds the interface's <see cref="InterfaceLock"/>. A failure leaves the running ruleset,
/// its generation and its counters exactly as they were.
/// </summary>
public static class Firewall
{
    public const string DispatcherProgram = "fw_dispatch";
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public static string DispatcherObjectPath => Classifier.DefaultObjectPath("fw_dispatch.bpf.o");

    public static void RequireRoot()
    {
        if (Interop.geteuid() != 0)
            throw new BpfException("fw needs root (CAP_BPF and CAP_NET_ADMIN) to load and attach XDP programs", 1 /* EPERM */);
    }

    public static int Ifindex(string iface)
    {
        uint ifindex = Interop.if_nametoindex(iface);
        return ifindex != 0 ? (int)ifindex : throw new BpfException($"{iface}: no such interface", 19 /* ENODEV */);
    }

    public static bool IsAttached(string iface) => File.Exists(PinLayout.Link(iface));

    /// <summary>Loads the dispatcher and generation 1, attaches, and pins everything.</summary>
    /// <param name="classifierObject">Another build's fw.bpf.o (the benchmarks compare builds); null: this one's.</param>
    public static ChangeResult Attach(string iface, CheckResult rules, string rulesFile, XdpMode mode, string? classifierObject = null)
    {
        RequireRoot();
        var sw = Stopwatch.StartNew();
        int ifindex = Ifindex(iface);
        var image = rules.Image ?? throw new RulesException(rules.Diagnostics.Where(d => d.Severity == Severity.Error).ToList());
        PinLayout.EnsureBpfFs();
        using var lk = InterfaceLock.Acquire(iface, LockTimeout);
        if (IsAttached(iface))
            throw new BpfException($"attach {iface}: fw is already attached (use fwctl reload to change its rules)", 17 /* EEXIST */);
        var query = QueryXdp(ifindex);
        if (query.ProgId != 0)
            throw new BpfException($"attach {iface}: another XDP program (id {query.ProgId}) is attached; detach it first", 16 /* EBUSY */);
        // Leftovers of a crashed attach (no link pinned): nothing runs from them.
        PinLayout.RemoveTree(PinLayout.Dir(iface));

        using var dispatcher = BpfObject.Open(DispatcherObjectPath);
        dispatcher.Load();
        var stats = dispatcher.Map("fw_stats");
        var slots = Enumerable.Range(0, image.Rules.Count).Select(i => (uint)FwStatSlot.RuleBase + (uint)i).ToArray();
        using var classifier = Classifier.Load(image, new ClassifierOptions { Stats = stats, StatSlots = slots, ObjectPath = classifierObject });
        dispatcher.Map("fw_progs").Update(0u, classifier.ProgramFd);

        string dir = PinLayout.Dir(iface);
        Directory.CreateDirectory(dir);
        FdHandle? link = null;
        try
        {
            bool fellBack = false;
            XdpMode got;
            (link, got) = mode switch
            {
                XdpMode.Native => (CreateLink(dispatcher, ifindex, Interop.XdpFlagsDrvMode, iface), XdpMode.Native),
                XdpMode.Generic => (CreateLink(dispatcher, ifindex, Interop.XdpFlagsSkbMode, iface), XdpMode.Generic),
                _ => TryNativeThenGeneric(dispatcher, ifindex, iface, out fellBack),
            };
            dispatcher.PinProgram(DispatcherProgram, PinLayout.Prog(iface));
            stats.Pin(PinLayout.Stats(iface));
            dispatcher.Map("fw_progs").Pin(PinLayout.Progs(iface));
            classifier.PinTo(PinLayout.Generation(iface, 1));
            var meta = dispatcher.Map("fw_meta");
            meta.Update(0u, MakeMeta(1, rules, image, rulesFile, got));
            meta.Pin(PinLayout.Meta(iface));
            link.Pin(PinLayout.Link(iface));   // last: a pinned link means "attached"
            return new ChangeResult(iface, 1, got, fellBack, sw.Elapsed);
        }
        catch
        {
            PinLayout.RemoveTree(dir);
            throw;
        }
        finally
        {
            link?.Dispose();   // the pin keeps the link; without it, closing detaches
        }
    }

    /// <summary>
    /// Builds the new generation completely beside the running one, then switches with one map write
    /// (fw_progs[0]). Counters of rules whose name persists carry over; new rules start at zero.
    /// </summary>
    /// <remarks>
    /// Crash safety. Two writes matter, fw_meta (which generation is loaded, with its file, digest and
    /// settings) and fw_progs[0] (which generation classifies), and no single write does both, so a process
    /// killed between them leaves them disagreeing. They are made in this order:
    /// <list type="number">
    /// <item>gen-N+1 is built and pinned completely; nothing refers to it yet;</item>
    /// <item>fw_meta := N+1: the commit point, after which the reload counts as done even if we die;</item>
    /// <item>fw_progs[0] := gen-N+1's classifier: the switch;</item>
    /// <item>gen-N is removed.</item>
    /// </list>
    /// Invariant: the generation fw_meta names is pinned completely (it is pinned before fw_meta names it
    /// and removed only after fw_meta names another), and fw_progs[0] runs it or, between 2 and 3, its
    /// predecessor. A kill before 2 leaves meta and fw_progs agreeing on N and a stale gen-N+1, which the next
    /// reload removes (every gen-* but meta's: after recovery none other is live). A kill between 2 and 3 is
    /// repaired by <see cref="InterfaceState.Open(string)"/>, under this lock, by redoing the switch to meta's
    /// generation: safe by the invariant, idempotent, and the result is what the reload would have left.
    /// The opposite order (switch, then meta) would leave the new generation classifying with nothing
    /// describing it, so the only repair would be a rollback of a switch traffic already saw, and until then
    /// stats would read the old generation's rules over the new one's counters. The same repair also
    /// undoes that state if an older fw left it: meta's generation is still pinned then.
    /// A failure that is not a crash (an exception) before the switch rolls back: meta restored, gen-N+1
    /// unpinned, so the old generation keeps classifying with its counters untouched.
    /// </remarks>
    public static ChangeResult Reload(string iface, CheckResult rules, string rulesFile)
    {
        RequireRoot();
        var sw = Stopwatch.StartNew();
        var image = rules.Image ?? throw new RulesException(rules.Diagnostics.Where(d => d.Severity == Severity.Error).ToList());
        using var lk = InterfaceLock.Acquire(iface, LockTimeout);
        if (!IsAttached(iface))
            throw new BpfException($"reload {iface}: fw is not attached (use fwctl attach)", 2 /* ENOENT */);
        using var state = InterfaceState.Open(iface);   // under the lock: repairs a killed reload (see above)
        ulong next = state.Meta.Generation + 1;
        // Generation directories of a killed reload: fw_progs[0] runs meta's generation, none of these.
        foreach (string d in Directory.GetDirectories(PinLayout.Dir(iface), "gen-*"))
        {
            if (d != state.GenerationDir)
                PinLayout.RemoveTree(d);
        }

        var slots = AssignSlots(state, image, out var fresh);
        using var classifier = Classifier.Load(image, new ClassifierOptions
        {
            Stats = state.Stats,
            StatSlots = slots,
            MaxEntriesOverride = FaultInjection.MapSizes(iface),
        });
        string genDir = PinLayout.Generation(iface, next);
        bool committed = false;
        try
        {
            // No live rule counts into a fresh slot, so zeroing it is invisible until the switch.
            foreach (uint slot in fresh)
                ZeroSlot(state.Stats, slot);
            classifier.PinTo(genDir);
            FaultInjection.At(iface, ReloadStep.Pinned);
            state.MetaMap.Update(0u, MakeMeta(next, rules, image, rulesFile, (XdpMode)state.Meta.XdpMode));
            committed = true;
            FaultInjection.At(iface, ReloadStep.Committed);
            // The switch: one map write. In-flight packets finish in the old program with the old maps.
            using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
            progs.Update(0u, classifier.ProgramFd);
        }
        catch (Exception e) when (e is not FaultInjection.SimulatedCrash)
        {
            // Not switched: the old generation still classifies. Undo the commit first; if that fails too,
            // gen-N+1 stays (meta names it) and the next open finishes the switch to it.
            if (committed)
                state.MetaMap.Update(0u, state.Meta);
            PinLayout.RemoveTree(genDir);
            throw;
        }
        FaultInjection.At(iface, ReloadStep.Switched);
        PinLayout.RemoveTree(state.GenerationDir);
        return new ChangeResult(iface, next, (XdpMode)state.Meta.XdpMode, false, sw.Elapsed);
    }

    /// <summary>The id of the program in fw_progs[0] (what classifies), 0 when the slot is empty.</summary>
    internal static uint LiveProgramId(string iface)
    {
        using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
        return progs.TryLookup(0u, out uint id) ? id : 0;   // a prog array reads back as program ids
    }

    /// <summary>The id of generation <paramref name="gen"/>'s pinned classifier, 0 when it is not pinned.</summary>
    internal static uint GenerationProgramId(string iface, ulong gen)
    {
        try
        {
            return FdHandle.IdOfPinned(Path.Combine(PinLayout.Generation(iface, gen), PinLayout.ClassifierPin));
        }
        catch (BpfException e) when (e.Errno == 2 /* ENOENT */)
        {
            return 0;   // not pinned (any more: a reload may have just removed it)
        }
    }

    /// <summary>
    /// Recovery of a reload killed between its commit and its switch (see <see cref="Reload"/>): points
    /// fw_progs[0] at the generation fw_meta names. Call with the interface lock held.
    /// </summary>
    internal static void FinishSwitch(string iface, ulong gen)
    {
        string pin = Path.Combine(PinLayout.Generation(iface, gen), PinLayout.ClassifierPin);
        if (!File.Exists(pin))
            throw new BpfException($"{iface}: fw_meta names generation {gen}, which is not pinned; detach and attach again", 2 /* ENOENT */);
        using var prog = FdHandle.OpenPinned(pin);
        using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
        progs.Update(0u, prog.Fd);
    }

    /// <summary>Detaches the program and removes every pin fw made for the interface.</summary>
    public static void Detach(string iface)
    {
        RequireRoot();
        using var lk = InterfaceLock.Acquire(iface, LockTimeout);
        string dir = PinLayout.Dir(iface);
        if (!Directory.Exists(dir))
            throw new BpfException($"detach {iface}: fw is not attached", 2 /* ENOENT */);
        if (File.Exists(PinLayout.Link(iface)))
        {
            // Detach even if another process (fwd) still holds the link open.
            using var link = FdHandle.OpenPinned(PinLayout.Link(iface));
            BpfException.Check(Interop.bpf_link_detach(link.Fd), $"detach {iface}");
        }
        PinLayout.RemoveTree(dir);
        PinLayout.RemoveRootIfEmpty();
    }

    private static (FdHandle, XdpMode) TryNativeThenGeneric(BpfObject dispatcher, int ifindex, string iface, out bool fellBack)
    {
        try
        {
            fellBack = false;
            return (CreateLink(dispatcher, ifindex, Interop.XdpFlagsDrvMode, iface), XdpMode.Native);
        }
        catch (BpfException e) when (e.Errno is 95 /* EOPNOTSUPP */ or 22 /* EINVAL */)
        {
            fellBack = true;
            return (CreateLink(dispatcher, ifindex, Interop.XdpFlagsSkbMode, iface), XdpMode.Generic);
        }
    }

    private static FdHandle CreateLink(BpfObject dispatcher, int ifindex, uint flags, string iface)
    {
        var opts = new Interop.LinkCreateOpts { Sz = (nuint)System.Runtime.CompilerServices.Unsafe.SizeOf<Interop.LinkCreateOpts>(), Flags = flags };
        int fd = Interop.bpf_link_create(dispatcher.ProgramFd(DispatcherProgram), ifindex, Interop.BpfXdp, opts);
        if (fd < 0)
        {
            string mode = flags == Interop.XdpFlagsDrvMode ? "native" : "generic";
            throw new BpfException($"attach {iface} ({mode} XDP)", -fd, LibbpfLog.TakeRecent());
        }
        return new FdHandle(fd);
    }

    /// <summary>The id of the XDP program attached to the interface (any mode), 0 if none.</summary>
    public static uint AttachedProgramId(string iface) => QueryXdp(Ifindex(iface)).ProgId;

    internal static Interop.XdpQueryOpts QueryXdp(int ifindex)
    {
        var q = new Interop.XdpQueryOpts { Sz = (nuint)System.Runtime.CompilerServices.Unsafe.SizeOf<Interop.XdpQueryOpts>() };
        BpfException.Check(Interop.bpf_xdp_query(ifindex, 0, ref q), "query XDP programs");
        return q;
    }

    /// <summary>Rules keep the slot of the rule with their name; new names get free slots.</summary>
    private static uint[] AssignSlots(InterfaceState state, MapImage image, out List<uint> fresh)
    {
        var old = state.Rules.ToDictionary(r => r.Name, r => r.Slot);
        var used = old.Values.ToHashSet();
        uint next = (uint)FwStatSlot.RuleBase;
        fresh = [];
        var slots = new uint[image.Rules.Count];
        for (int i = 0; i < slots.Length; i++)
        {
            if (old.TryGetValue(image.Rules[i].Name, out uint s))
            {
                slots[i] = s;
                continue;
            }
            while (used.Contains(next))
                next++;
            if (next >= FwConst.StatSlots)
                throw new BpfException("assign counter slots: none free", 28 /* ENOSPC */);
            slots[i] = next;
            used.Add(next);
            fresh.Add(next);
        }
        return slots;
    }

    private static void ZeroSlot(BpfMap stats, uint slot)
    {
        var zeros = new FwCounter[BpfMap.PossibleCpus];
        stats.UpdatePerCpu(slot, zeros);
    }

    private static FwMeta MakeMeta(ulong gen, CheckResult rules, MapImage image, string rulesFile, XdpMode mode)
    {
        var m = new FwMeta
        {
            Generation = gen,
            LoadedNs = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
            Rules = (uint)image.Rules.Count,
            Prefixes = (uint)(rules.Ruleset?.PrefixCount ?? 0),
            Words = (uint)image.Words,
            Fields = (uint)image.Fields,
            Classes = (uint)image.ClassCount,
            XdpMode = (uint)mode,
            DefaultAction = (byte)image.Default,
            MalformedAction = (byte)image.Malformed,
            NonIpAction = (byte)image.NonIp,
        };
        m.DigestHex = image.Digest();
        m.FileName = Path.GetFullPath(rulesFile);
        return m;
    }
}

/// <summary>
/// An attached interface as read from its pins: metadata, the shared counters and the live
/// generation's rules. Works in any process, with or without fwd.
/// </summary>
public sealed class InterfaceState : IDisposable
{
    public sealed record RuleInfo(int Index, string Name, RuleAction Action, uint Slot);

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
        if (!File.Exists(PinLayout.Meta(iface)))
            throw new BpfException($"{iface}: fw is not attached", 2 /* ENOENT */);
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
                    using var lk = InterfaceLock.Acquire(iface, Firewall.LockTimeout);
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
                rules.Add(new RuleInfo((int)i, n.ToString(), (RuleAction)r.Action, r.StatSlot));
            }
        }
        return rules;
    }

    /// <summary>One slot of fw_stats, per CPU.</summary>
    public FwCounter[] Counter(uint slot) => Stats.LookupPerCpu<uint, FwCounter>(slot);

    public void Dispose()
    {
        MetaMap.Dispose();
        Stats.Dispose();
    }
}
