using System.Diagnostics;
using Fw.Bpf;
using Fw.Compiler;

namespace Fw.Kernel;

/// <summary>
/// The appliance's kernel operations on one interface: attach, atomic reload, detach, and a trace copy of the
/// live generation. All state is pinned (see <see cref="PinLayout"/>), so any process can pick up where another
/// left off; every change holds the interface's <see cref="InterfaceLock"/>. A failure leaves the running
/// ruleset, its generation and its counters exactly as they were. It takes a compiled <see cref="MapImage"/>
/// and where it came from; checking rules is the caller's (Fw.Control).
/// </summary>
public static class Firewall
{
    public const string DispatcherProgram = "fw_dispatch";

    public static string DispatcherObjectPath => Classifier.DefaultObjectPath("fw_dispatch.bpf.o");

    public static void RequireRoot()
    {
        if (!Privileges.IsRoot)
            throw new BpfException("fw needs root (CAP_BPF and CAP_NET_ADMIN) to load and attach XDP programs", 1 /* EPERM */);
    }

    /// <summary>Whether fw filters the interface: its pinned link exists and still has its interface.</summary>
    public static bool IsAttached(string iface) => StateOf(iface) == AttachState.Attached;

    /// <summary>What the interface's pinned link says (see <see cref="AttachState"/>).</summary>
    public static AttachState StateOf(string iface)
    {
        string pin = PinLayout.Link(iface);
        if (!File.Exists(pin))
            return AttachState.NotAttached;
        try
        {
            using var link = FdHandle.OpenPinned(pin);
            return XdpLinks.LinkIfindex(link) == 0 ? AttachState.Defunct : AttachState.Attached;
        }
        catch (BpfException e) when (e.Errno == 2 /* ENOENT: detached meanwhile */)
        {
            return AttachState.NotAttached;
        }
    }

    /// <summary>Loads the dispatcher and generation 1, attaches, and pins everything.</summary>
    /// <param name="classifierObject">Another build's fw.bpf.o (the benchmarks compare builds); null: this one's.</param>
    public static ChangeResult Attach(string iface, MapImage image, ImageOrigin origin, XdpMode mode, string? classifierObject = null) =>
        Attach(iface, image, origin, mode, classifierObject, frags: true);

    /// <param name="frags">Load both programs for multi-buffer frames (this build) or not, as a build before
    /// multi-buffer support did: tests attach so to prove a reload by this build works under such a dispatcher.</param>
    internal static ChangeResult Attach(string iface, MapImage image, ImageOrigin origin, XdpMode mode, string? classifierObject, bool frags)
    {
        RequireRoot();
        var sw = Stopwatch.StartNew();
        int ifindex = NetInterface.Index(iface);
        PinLayout.EnsureRoot();
        using var lk = InterfaceLock.Acquire(iface);
        if (StateOf(iface) == AttachState.Attached)
            throw new FirewallException(iface, "attach", FirewallError.AlreadyAttached, $"attach {iface}: fw is already attached");
        var attached = XdpLinks.Query(ifindex);
        if (attached.ProgId != 0)
        {
            throw new FirewallException(iface, "attach", FirewallError.OtherProgram,
                $"attach {iface}: another XDP program (id {attached.ProgId}) is attached; detach it first");
        }
        // Leftovers of a crashed attach (no link pinned) or of a defunct link (its interface went): nothing runs
        // from them. Attaching again is the repair.
        PinLayout.RemoveTree(PinLayout.Dir(iface));

        using var dispatcher = BpfObject.Open(DispatcherObjectPath);
        // A tail call needs the dispatcher and the classifier loaded alike for multi-buffer frames.
        dispatcher.SetProgramFrags(DispatcherProgram, frags);
        dispatcher.Load();
        var stats = dispatcher.Map("fw_stats");
        var slots = StatSlots.Initial(image.Rules.Count);
        using var sets = LiveSetPins.Prepare(iface, image);
        using var classifier = Classifier.Load(image, new ClassifierOptions
        {
            Stats = stats, StatSlots = slots, ObjectPath = classifierObject, Frags = frags, LiveSets = sets.Maps,
        });
        dispatcher.Map("fw_progs").Update(0u, classifier.ProgramFd);

        string dir = PinLayout.CreateDir(iface);
        FdHandle? link = null;
        try
        {
            bool fellBack = false;
            XdpMode got;
            int prog = dispatcher.ProgramFd(DispatcherProgram);
            (link, got) = mode switch
            {
                XdpMode.Native or XdpMode.Generic => (XdpLinks.Create(prog, ifindex, mode, iface), mode),
                _ => TryNativeThenGeneric(prog, ifindex, iface, out fellBack),
            };
            dispatcher.PinProgram(DispatcherProgram, PinLayout.Prog(iface));
            stats.Pin(PinLayout.Stats(iface));
            dispatcher.Map("fw_progs").Pin(PinLayout.Progs(iface));
            classifier.PinTo(PinLayout.Generation(iface, 1));
            if (image.Log is not null)
            {
                classifier.Map(Classifier.LogMap).Pin(PinLayout.Log(iface));
                classifier.Map(Classifier.LogBucketMap).Pin(PinLayout.LogBucket(iface));
            }
            if (image.UsesLimits)
                classifier.Map(Classifier.LimitMap).Pin(PinLayout.Limits(iface));
            sets.PinNew();
            if (image.Conntrack is { } ct)
            {
                var table = classifier.Map(Classifier.ConntrackMap);
                table.Pin(PinLayout.Conntrack(iface));
                EgressTracker.Attach(iface, ifindex, ct, table, stats, PinLayout.Generation(iface, 1));
            }
            var meta = dispatcher.Map("fw_meta");
            meta.Update(0u, MakeMeta(1, image, origin, got));
            meta.Pin(PinLayout.Meta(iface));
            link.Pin(PinLayout.Link(iface));   // last: a pinned link means "attached"
            return new ChangeResult(iface, 1, got, fellBack, sw.Elapsed);
        }
        catch
        {
            if (image.Conntrack is not null)
                EgressTracker.Detach(iface);
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
    /// <param name="confirm">Keep the previous generation and revert to it unless confirmed in time (see <see cref="PendingConfirm"/>).</param>
    public static ChangeResult Reload(string iface, MapImage image, ImageOrigin origin, ConfirmRequest? confirm = null)
    {
        RequireRoot();
        var sw = Stopwatch.StartNew();
        PinLayout.CheckRoot();
        using var lk = InterfaceLock.Acquire(iface);
        if (PendingLocked(iface) is { } pending)
        {
            if (pending.Deadline > DateTimeOffset.UtcNow)
            {
                throw new FirewallException(iface, "reload", FirewallError.PendingConfirm,
                    $"reload {iface}: generation {pending.Generation} is waiting for confirmation until {pending.Deadline:HH:mm:ss} UTC");
            }
            RevertLocked(iface, pending);   // overdue: its timer is gone; what it would have done comes first
        }
        switch (StateOf(iface))
        {
            case AttachState.NotAttached:
                throw new FirewallException(iface, "reload", FirewallError.NotAttached, $"reload {iface}: fw is not attached");
            case AttachState.Defunct:
                throw new FirewallException(iface, "reload", FirewallError.Defunct,
                    $"reload {iface}: nothing filters {iface}: its pinned link lost the interface (deleted, or detached by a killed detach)");
        }
        using var state = InterfaceState.Open(iface);   // under the lock: repairs a killed reload (see above)
        ulong next = state.Meta.Generation + 1;
        // Generation directories of a killed reload: fw_progs[0] runs meta's generation, none of these.
        foreach (string d in Directory.GetDirectories(PinLayout.Dir(iface), "gen-*"))
        {
            if (d != state.GenerationDir)
                PinLayout.RemoveTree(d);
        }

        try
        {
            return Build(frags: true);
        }
        catch (IncompatibleDispatcher)
        {
            // The attached dispatcher was loaded by a build without multi-buffer frames, and a tail call needs both
            // alike: this generation is loaded as that dispatcher was (the attempt above was rolled back whole).
            return Build(frags: false);
        }

        ChangeResult Build(bool frags)
        {
            var plan = StatSlots.Plan(state, image);
            // The flow table is the interface's, kept across generations: connections outlive a reload.
            string ctPin = PinLayout.Conntrack(iface);
            using var sharedCt = image.Conntrack is not null && File.Exists(ctPin) ? BpfMap.OpenPinned(ctPin) : null;
            // The packet log too: a reader following it sees every generation's records, a reload loses none.
            string logPin = PinLayout.Log(iface), bucketPin = PinLayout.LogBucket(iface);
            bool shareLog = image.Log is not null && File.Exists(logPin) && File.Exists(bucketPin);
            using var sharedLog = shareLog ? BpfMap.OpenPinned(logPin) : null;
            using var sharedBucket = shareLog ? BpfMap.OpenPinned(bucketPin) : null;
            // The limits' buckets too: a reload does not give every flooding source a fresh burst.
            string limitsPin = PinLayout.Limits(iface);
            using var sharedLimits = image.UsesLimits && File.Exists(limitsPin) ? BpfMap.OpenPinned(limitsPin) : null;
            // And the live sets: their entries outlive a reload.
            using var sets = LiveSetPins.Prepare(iface, image);
            using var classifier = Classifier.Load(image, new ClassifierOptions
            {
                Stats = state.Stats,
                StatSlots = plan.Slots,
                Conntrack = sharedCt,
                Log = shareLog ? (sharedLog!, sharedBucket!) : null,
                Limits = sharedLimits,
                LiveSets = sets.Maps,
                Frags = frags,
                MaxEntriesOverride = FaultInjection.MapSizes(iface),
            });
            bool ctPinned = false, logPinned = false, egressAttached = false, limitsPinned = false;
            string genDir = PinLayout.Generation(iface, next);
            bool committed = false;
            PendingConfirm? record = null;
            try
            {
                // No live rule counts into a fresh slot, so writing it is invisible until the switch.
                plan.Prepare(state.Stats);
                classifier.PinTo(genDir);
                if (image.Conntrack is not null && sharedCt is null)
                {
                    classifier.Map(Classifier.ConntrackMap).Pin(ctPin);   // the first ruleset of the interface to name state
                    ctPinned = true;
                }
                if (image.Log is not null && !shareLog)
                {
                    File.Delete(logPin);   // a half-pinned pair of a crashed reload
                    File.Delete(bucketPin);
                    logPinned = true;
                    classifier.Map(Classifier.LogMap).Pin(logPin);   // the first ruleset of the interface to log
                    classifier.Map(Classifier.LogBucketMap).Pin(bucketPin);
                }
                if (image.UsesLimits && sharedLimits is null)
                {
                    File.Delete(limitsPin);   // left by a crashed reload
                    limitsPinned = true;
                    classifier.Map(Classifier.LimitMap).Pin(limitsPin);   // the first ruleset of the interface with a limit
                }
                sets.PinNew();
                if (image.Conntrack is { } ct)
                {
                    // Before the commit: flows that leave are recorded before any rule asks for their replies.
                    egressAttached = !EgressTracker.IsAttached(iface);
                    EgressTracker.Attach(iface, NetInterface.Index(iface), ct, sharedCt ?? classifier.Map(Classifier.ConntrackMap), state.Stats, genDir);
                }
                FaultInjection.At(iface, ReloadStep.Pinned);
                if (confirm is not null)
                {
                    // Before the commit: from the commit on, a timer exists that reverts it.
                    record = PendingConfirm.Create(iface, confirm.Within, state.Meta.Generation, next, state.Meta);
                    record.Write();
                    confirm.StartTimer(record);
                }
                state.MetaMap.Update(0u, MakeMeta(next, image, origin, (XdpMode)state.Meta.XdpMode));
                committed = true;
                FaultInjection.At(iface, ReloadStep.Committed);
                // The switch: one map write. In-flight packets finish in the old program with the old maps.
                using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
                try
                {
                    progs.Update(0u, classifier.ProgramFd);
                }
                catch (BpfException e) when (e.Errno == 22 /* EINVAL */ && frags)
                {
                    throw new IncompatibleDispatcher(e);
                }
            }
            catch (Exception e) when (e is not FaultInjection.SimulatedCrash)
            {
                // Not switched: the old generation still classifies. Undo the commit first; if that fails too,
                // gen-N+1 stays (meta names it) and the next open finishes the switch to it.
                if (committed)
                    state.MetaMap.Update(0u, state.Meta);
                PinLayout.RemoveTree(genDir);
                if (egressAttached)
                    EgressTracker.Detach(iface);
                if (ctPinned)
                    File.Delete(ctPin);
                if (logPinned)
                {
                    File.Delete(logPin);
                    File.Delete(bucketPin);
                }
                if (limitsPinned)
                    File.Delete(limitsPin);
                sets.Rollback();
                if (record is not null)
                    PendingConfirm.Delete(iface);
                throw;
            }
            FaultInjection.At(iface, ReloadStep.Switched);
            sets.Switched();
            if (image.Conntrack is null && EgressTracker.IsAttached(iface))
                EgressTracker.Detach(iface);   // no rule asks for state any more: nothing to record
            if (record is null)
            {
                plan.Finish(state.Stats);
                PinLayout.RemoveTree(state.GenerationDir);
                LiveSetPins.RemoveUnused(iface, image.LiveSets.Select(s => s.Name));   // no generation names them any more
            }
            // else: the previous generation stays pinned (and the slots it counts in untouched) until confirm or revert.
            return new ChangeResult(iface, next, (XdpMode)state.Meta.XdpMode, false, sw.Elapsed);
        }
    }

    /// <summary>The attached dispatcher refused this build's classifier (another build's tail-call settings).</summary>
    private sealed class IncompatibleDispatcher(BpfException inner) : Exception(inner.Message, inner);

    /// <summary>The change waiting for confirmation on the interface, or null.</summary>
    public static PendingConfirm? Pending(string iface)
    {
        var p = PendingConfirm.Read(iface);
        if (p is null)
            return null;
        using var state = InterfaceState.Open(iface);
        return state.Meta.Generation == p.Generation ? p : null;
    }

    /// <summary>Keeps the pending change: the previous generation is removed; counters go on.</summary>
    public static PendingConfirm Confirm(string iface)
    {
        RequireRoot();
        using var lk = InterfaceLock.Acquire(iface);
        var pending = PendingLocked(iface) ?? throw new FirewallException(iface, "confirm", FirewallError.NotPending,
            $"confirm {iface}: no change is waiting for confirmation");
        PendingConfirm.Delete(iface);   // first: from here on no timer reverts it
        PinLayout.RemoveTree(PinLayout.Generation(iface, pending.PreviousGeneration));
        LiveSetPins.RemoveUnused(iface, LiveSetPins.NamesOf(PinLayout.Generation(iface, pending.Generation)));
        return pending;
    }

    /// <summary>
    /// Puts the previous generation back now (fwctl revert, and the timer at the deadline). With a token, only the
    /// change it names: a timer of an older change that was confirmed or replaced does nothing.
    /// </summary>
    /// <returns>What was reverted; null when nothing (that token) was pending.</returns>
    public static PendingConfirm? Revert(string iface, string? token = null)
    {
        RequireRoot();
        using var lk = InterfaceLock.Acquire(iface);
        var pending = PendingLocked(iface);
        if (pending is null || (token is not null && pending.Token != token))
            return null;
        RevertLocked(iface, pending);
        return pending;
    }

    /// <summary>The interface's valid pending change, with the lock held; a stale record (its change never committed) is removed.</summary>
    private static PendingConfirm? PendingLocked(string iface)
    {
        var p = PendingConfirm.Read(iface);
        if (p is null)
            return null;
        if (StateOf(iface) == AttachState.Attached)
        {
            using var state = InterfaceState.Open(iface);
            if (state.Meta.Generation == p.Generation)
                return p;
        }
        PendingConfirm.Delete(iface);   // the reload it belongs to died before its commit, or fw was detached
        return null;
    }

    /// <summary>
    /// The revert, as a reload in reverse and in the same order (see <see cref="Reload"/>): fw_meta back to the
    /// previous generation's (the commit), fw_progs[0] to its classifier (the switch), then the reverted one goes.
    /// </summary>
    private static void RevertLocked(string iface, PendingConfirm pending)
    {
        var previous = pending.PreviousMetaValue();
        if (previous.Generation != pending.PreviousGeneration || GenerationProgramId(iface, pending.PreviousGeneration) == 0)
        {
            throw new FirewallException(iface, "revert", FirewallError.Inconsistent,
                $"revert {iface}: generation {pending.PreviousGeneration} is not pinned any more");
        }
        using (var meta = BpfMap.OpenPinned(PinLayout.Meta(iface)))
            meta.Update(0u, previous);
        FinishSwitch(iface, pending.PreviousGeneration);
        EgressTracker.Restore(iface, PinLayout.Generation(iface, pending.PreviousGeneration));   // its egress side too
        LiveSetPins.PinAsIn(iface, PinLayout.Generation(iface, pending.PreviousGeneration));    // and its live sets
        PendingConfirm.Delete(iface);
        PinLayout.RemoveTree(PinLayout.Generation(iface, pending.Generation));
    }

    /// <summary>Detaches the program and removes every pin fw made for the interface.</summary>
    public static void Detach(string iface)
    {
        RequireRoot();
        PinLayout.CheckRoot();
        using var lk = InterfaceLock.Acquire(iface);
        string dir = PinLayout.Dir(iface);
        if (!OwnDirectory.Exists(dir))
            throw new FirewallException(iface, "detach", FirewallError.NotAttached, $"detach {iface}: fw is not attached");
        if (EgressTracker.IsAttached(iface))
            EgressTracker.Detach(iface);
        if (StateOf(iface) == AttachState.Attached)
        {
            // Detach even if another process (fwd) still holds the link open.
            using var link = FdHandle.OpenPinned(PinLayout.Link(iface));
            XdpLinks.Detach(link, iface);
        }
        PinLayout.RemoveTree(dir);
        PendingConfirm.Delete(iface);   // nothing to revert to any more
        PinLayout.RemoveRootIfEmpty();
    }

    /// <summary>
    /// A trace-enabled copy of the interface's live generation (see <see cref="TraceCopy"/>), loaded under the
    /// interface's lock so no reload removes the generation between reading it and loading its copy.
    /// </summary>
    public static TraceCopy OpenTrace(string iface)
    {
        RequireRoot();
        NetInterface.Index(iface);
        if (StateOf(iface) != AttachState.Attached)
            throw new FirewallException(iface, "trace", FirewallError.NotAttached, $"{iface}: fw is not attached");
        using var lk = InterfaceLock.Acquire(iface);
        var state = InterfaceState.Open(iface);
        try
        {
            return TraceCopy.Load(state);
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }

    /// <summary>The id of the XDP program attached to the interface (any mode), 0 if none.</summary>
    public static uint AttachedProgramId(string iface) => XdpLinks.Query(NetInterface.Index(iface)).ProgId;

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
        {
            throw new FirewallException(iface, "read", FirewallError.Inconsistent,
                $"{iface}: fw_meta names generation {gen}, which is not pinned");
        }
        using var prog = FdHandle.OpenPinned(pin);
        using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
        progs.Update(0u, prog.Fd);
    }

    private static (FdHandle, XdpMode) TryNativeThenGeneric(int prog, int ifindex, string iface, out bool fellBack)
    {
        try
        {
            fellBack = false;
            return (XdpLinks.Create(prog, ifindex, XdpMode.Native, iface), XdpMode.Native);
        }
        catch (BpfException e) when (e.Errno is 95 /* EOPNOTSUPP */ or 22 /* EINVAL */ or 34 /* ERANGE: veth, MTU too large */)
        {
            fellBack = true;
            return (XdpLinks.Create(prog, ifindex, XdpMode.Generic, iface), XdpMode.Generic);
        }
    }

    private static FwMeta MakeMeta(ulong gen, MapImage image, ImageOrigin origin, XdpMode mode)
    {
        var m = new FwMeta
        {
            Generation = gen,
            LoadedNs = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
            Rules = (uint)image.Rules.Count,
            Prefixes = (uint)origin.Prefixes,
            Words = (uint)image.Words,
            Fields = (uint)image.Fields,
            Classes = (uint)image.ClassCount,
            XdpMode = (uint)mode,
            DefaultAction = (byte)image.Default,
            MalformedAction = (byte)image.Malformed,
            NonIpAction = (byte)image.NonIp,
        };
        m.DigestHex = image.Digest();
        m.FileName = Path.GetFullPath(origin.RulesFile);
        return m;
    }
}
