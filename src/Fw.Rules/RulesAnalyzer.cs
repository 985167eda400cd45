namespace Fw.Rules;

/// <summary>
/// Warnings about a valid ruleset: a drop rule whose limit is per rule putting sources into a set (add_to bans
/// whoever comes over the shared rate), rules that can never match (an earlier rule matches everything they do,
/// or their own fields exclude each other), <c>malformed: pass</c> under <c>default: drop</c> (a way around
/// every rule), and <c>default: drop</c> without a way through for ICMPv6 neighbour discovery. (IPv4-mapped
/// IPv6 prefixes are warned where they are read, at their own line and column: <see cref="MappedIPv4"/>.) Conservative: a warning is always true, some dead rules go unnoticed (coverage is
/// decided one earlier rule at a time, and sets over <see cref="CoverageLimit"/> prefixes are compared by
/// identity only). A live set (`dynamic: true`) is compared by identity: it may hold any address at run time. A
/// rule with a limit covers nothing: the packets its limit does not match go on to the next rule.
/// </summary>
public static class RulesAnalyzer
{
    /// <summary>Sets larger than this are compared by identity, not prefix by prefix.</summary>
    public const int CoverageLimit = 1024;

    public const byte NeighbourSolicitation = 135, NeighbourAdvertisement = 136;

    public static IReadOnlyList<Diagnostic> Warnings(Ruleset rs)
    {
        var warnings = new List<Diagnostic>();
        var cache = new Dictionary<PrefixSet, SetFacts>(ReferenceEqualityComparer.Instance);
        var facts = rs.Rules.Select(r => new RuleFacts(r, cache)).ToArray();
        // Every rule against every earlier one: the flat pre-check turns most pairs away in a few compares.
        var quick = facts.Select(f => f.Quick).ToArray();

        for (int j = 0; j < facts.Length; j++)
        {
            var rule = facts[j];
            if (rule.NeverReason is string reason)
            {
                warnings.Add(Warn(rule.Rule, $"rule '{rule.Rule.Name}' can never match: {reason}"));
                continue;
            }
            for (int i = 0; i < j; i++)
            {
                if (quick[i].MayCover(in quick[j]) && facts[i].NeverReason is null && Covers(facts[i], rule))
                {
                    var earlier = facts[i].Rule;
                    warnings.Add(Warn(rule.Rule,
                        $"rule '{rule.Rule.Name}' can never match: rule '{earlier.Name}' ({earlier.Pos.File}:{earlier.Pos.Line}) matches everything it does"));
                    break;
                }
            }
        }

        foreach (var r in rs.Rules)
        {
            if (r is { Action: RuleAction.Drop, Limit.PerRule: true, AddTo: { } set })
            {
                warnings.Add(new Diagnostic(Severity.Warning, r.PosOf("add_to"),
                    $"rule '{r.Name}' has a limit per rule and add_to: every source whose packet comes over the rule's shared rate "
                    + $"goes into '{set.Name}', not only the sources that send the most; use per: src (or src/N) to ban by source",
                    "add_to".Length));
            }
        }

        if (rs.Default == RuleAction.Drop && rs.Malformed == RuleAction.Pass)
        {
            warnings.Add(new Diagnostic(Severity.Warning, rs.PosOf("malformed"),
                "malformed: pass with default: drop lets frames with truncated or invalid headers bypass every rule, " +
                "including the drop-by-default policy (they are passed before any rule is looked at); use malformed: drop",
                "malformed".Length));
        }

        if (rs.Default == RuleAction.Drop && !rs.Rules.Any(r => r.Action == RuleAction.Pass && r.State is { } st && st.HasFlag(ConnState.Established)))
        {
            warnings.Add(new Diagnostic(Severity.Warning, rs.PosOf("default"),
                "default drop with no pass rule for state established: replies to this host's own connections are dropped " +
                "(add a rule with state: [established, related] and action: pass)",
                "default".Length));
        }

        if (rs.Default == RuleAction.Drop && !(LetsThrough(facts, NeighbourSolicitation) && LetsThrough(facts, NeighbourAdvertisement)))
        {
            warnings.Add(new Diagnostic(Severity.Warning, rs.PosOf("default"),
                "default drop blocks ICMPv6 neighbour discovery; IPv6 will break " +
                $"(add a pass rule with proto icmpv6 and icmp_type [{NeighbourSolicitation}, {NeighbourAdvertisement}])",
                "default".Length));
        }
        return warnings;
    }

    private static Diagnostic Warn(Rule rule, string message)
    {
        // Underline the rule's first key (the rule's position is where it stands).
        int length = rule.KeyPos.FirstOrDefault(k => k.Value == rule.Pos).Key?.Length ?? 1;
        return new Diagnostic(Severity.Warning, rule.Pos, message, length);
    }

    /// <summary>
    /// Whether some pass rule lets ICMPv6 of this type through: it can match such a packet (proto, icmp_type,
    /// no port or flag fields, an IPv6 prefix in src and dst if given) and no earlier non-pass rule covers it.
    /// </summary>
    private static bool LetsThrough(RuleFacts[] facts, byte icmpType)
    {
        for (int k = 0; k < facts.Length; k++)
        {
            var f = facts[k];
            var r = f.Rule;
            if (r.Action != RuleAction.Pass || f.NeverReason is not null)
                continue;
            if (r.Proto is not null && !r.Proto.Contains(Ruleset.ProtoIcmpV6))
                continue;
            if (r.IcmpType is not null && !r.IcmpType.Contains(icmpType))
                continue;
            if (r.Sport is not null || r.Dport is not null || r.TcpFlags is not null)
                continue;
            if (r.State is { } st && !st.HasFlag(ConnState.New))
                continue;   // neighbour discovery belongs to no flow: it is new
            if (f.Src is { HasV6: false } || f.Dst is { HasV6: false })
                continue;
            bool blocked = false;
            for (int i = 0; i < k && !blocked; i++)
                blocked = facts[i].Rule.Action != RuleAction.Pass && facts[i].NeverReason is null && Covers(facts[i], f);
            if (!blocked)
                return true;
        }
        return false;
    }

    /// <summary>Whether every packet <paramref name="later"/> matches is also matched by <paramref name="earlier"/>.</summary>
    private static bool Covers(RuleFacts earlier, RuleFacts later)
    {
        if (!earlier.Quick.MayCover(later.Quick))
            return false;
        // A rule with a limit lets by the packets its limit does not match (those within a drop limit, over a quota).
        if (earlier.Rule.Limit is not null)
            return false;
        // Cheap fields first. An absent field matches everything, including non-first fragments, which
        // a port, flag or ICMP type field never matches: so only an absent L4 field covers an absent one.
        if (!CoversBytes(earlier.Proto, later.Proto))
            return false;
        // state: absent is every state; an earlier set covers a later one that is its subset.
        const ConnState Every = ConnState.New | ConnState.Established | ConnState.Related;
        if (earlier.Rule.State is { } es && ((later.Rule.State ?? Every) & ~es) != 0)
            return false;
        if (earlier.Sport is not null && (later.Sport is null || !Intervals.Covers(earlier.Sport, later.Sport)))
            return false;
        if (earlier.Dport is not null && (later.Dport is null || !Intervals.Covers(earlier.Dport, later.Dport)))
            return false;
        if (earlier.Rule.TcpFlags is TcpFlagsMatch e)
        {
            if (later.Rule.TcpFlags is not TcpFlagsMatch l || (e.Mask & ~l.Mask) != 0 || (l.Value & e.Mask) != e.Value)
                return false;
        }
        if (earlier.IcmpType is not null && (later.IcmpType is null || !later.IcmpType.Value.IsSubsetOf(earlier.IcmpType.Value)))
            return false;
        return CoversAddress(earlier.Src, later.Src) && CoversAddress(earlier.Dst, later.Dst);
    }

    private static bool CoversBytes(Bits256? earlier, Bits256? later) =>
        earlier is null || (later is null ? earlier.Value.IsFull : later.Value.IsSubsetOf(earlier.Value));

    private static bool CoversAddress(AddressFacts? earlier, AddressFacts? later)
    {
        if (earlier is null)
            return true;
        if (later is null)
            return earlier.CoversEverything;
        foreach (var set in later.BigSets)
        {
            if (!earlier.BigSets.Contains(set))
                return false;
        }
        return Intervals.Covers(earlier.V4, later.V4) && Intervals.Covers(earlier.V6, later.V6);
    }

    // ---- per-rule facts, computed once ----

    private sealed class RuleFacts
    {
        public RuleFacts(Rule rule, Dictionary<PrefixSet, SetFacts> cache)
        {
            Rule = rule;
            Src = rule.Src is null ? null : new AddressFacts(rule.Src, cache);
            Dst = rule.Dst is null ? null : new AddressFacts(rule.Dst, cache);
            Proto = rule.Proto is null ? null : Bits256.Of(rule.Proto);
            IcmpType = rule.IcmpType is null ? null : Bits256.Of(rule.IcmpType);
            Sport = rule.Sport is null ? null : Intervals.Merge(rule.Sport.Select(p => ((UInt128)p.Low, (UInt128)p.High)));
            Dport = rule.Dport is null ? null : Intervals.Merge(rule.Dport.Select(p => ((UInt128)p.Low, (UInt128)p.High)));
            NeverReason = Never();
            Quick = new QuickFacts(Proto, IcmpType, Sport, Dport);
        }

        public QuickFacts Quick { get; }

        public Rule Rule { get; }
        public AddressFacts? Src { get; }
        public AddressFacts? Dst { get; }
        public Bits256? Proto { get; }
        public Bits256? IcmpType { get; }
        public (UInt128 Lo, UInt128 Hi)[]? Sport { get; }
        public (UInt128 Lo, UInt128 Hi)[]? Dport { get; }

        /// <summary>Why the rule matches no packet at all, or null.</summary>
        public string? NeverReason { get; }

        private string? Never()
        {
            if (Src is { IsEmpty: true })
                return "src names only empty sets";
            if (Dst is { IsEmpty: true })
                return "dst names only empty sets";
            if (Src is not null && Dst is not null && !(Src.HasV4 && Dst.HasV4) && !(Src.HasV6 && Dst.HasV6))
                return Src.HasV4 ? "src is only IPv4 and dst only IPv6" : "src is only IPv6 and dst only IPv4";
            return null;
        }
    }

    private sealed class SetFacts
    {
        public SetFacts(PrefixSet set)
        {
            if (set.Dynamic)
            {
                // A live set may hold any address of either family at run time: compared by identity only.
                (HasV4, HasV6, IsBig) = (true, true, true);
                return;
            }
            foreach (var p in set.Prefixes)
            {
                if (p.Family == IpFamily.V4)
                    HasV4 = true;
                else
                    HasV6 = true;
                if (HasV4 && HasV6)
                    break;
            }
            IsBig = set.Prefixes.Count > CoverageLimit;
        }

        public bool HasV4 { get; }
        public bool HasV6 { get; }
        public bool IsBig { get; }
    }

    /// <summary>
    /// src or dst as merged address intervals per family (own prefixes and small sets), plus the big sets
    /// by identity. IPv4 intervals live in the top 32 bits of the 128-bit space, as <see cref="IpPrefix.Bits"/>.
    /// </summary>
    private sealed class AddressFacts
    {
        public AddressFacts(AddressMatch match, Dictionary<PrefixSet, SetFacts> cache)
        {
            var v4 = new List<(UInt128, UInt128)>();
            var v6 = new List<(UInt128, UInt128)>();
            var big = new List<PrefixSet>();
            void Add(IpPrefix p)
            {
                var interval = (p.Bits, p.Bits | ~IpPrefix.MaskOf(p.Length));
                if (p.Family == IpFamily.V4)
                    v4.Add(interval);
                else
                    v6.Add(interval);
            }
            foreach (var p in match.Prefixes)
                Add(p);
            HasV4 = v4.Count > 0;
            HasV6 = v6.Count > 0;
            foreach (var set in match.Sets)
            {
                if (!cache.TryGetValue(set, out var sf))
                    cache[set] = sf = new SetFacts(set);
                HasV4 |= sf.HasV4;
                HasV6 |= sf.HasV6;
                if (sf.IsBig)
                {
                    big.Add(set);
                    continue;
                }
                foreach (var p in set.Prefixes)
                    Add(p);
            }
            V4 = Intervals.Merge(v4);
            V6 = Intervals.Merge(v6);
            BigSets = big;
        }

        public (UInt128 Lo, UInt128 Hi)[] V4 { get; }
        public (UInt128 Lo, UInt128 Hi)[] V6 { get; }
        public List<PrefixSet> BigSets { get; }
        public bool HasV4 { get; }
        public bool HasV6 { get; }
        public bool IsEmpty => !HasV4 && !HasV6;

        /// <summary>Holds 0.0.0.0/0 and ::/0 (as a union): the same as an absent field.</summary>
        public bool CoversEverything =>
            V4 is [(var a, var b)] && a == UInt128.Zero && b == UInt128.MaxValue
            && V6 is [(var c, var e)] && c == UInt128.Zero && e == UInt128.MaxValue;
    }

    /// <summary>Sorted, merged, inclusive intervals.</summary>
    private static class Intervals
    {
        public static (UInt128 Lo, UInt128 Hi)[] Merge(IEnumerable<(UInt128 Lo, UInt128 Hi)> items)
        {
            var sorted = items.ToArray();
            Array.Sort(sorted, (x, y) => x.Lo.CompareTo(y.Lo));
            var merged = new List<(UInt128 Lo, UInt128 Hi)>(sorted.Length);
            foreach (var (lo, hi) in sorted)
            {
                if (merged.Count > 0)
                {
                    var (mlo, mhi) = merged[^1];
                    if (mhi == UInt128.MaxValue || lo <= mhi + 1)
                    {
                        merged[^1] = (mlo, UInt128.Max(mhi, hi));
                        continue;
                    }
                }
                merged.Add((lo, hi));
            }
            return merged.ToArray();
        }

        /// <summary>Whether the union of <paramref name="outer"/> contains every interval of <paramref name="inner"/>.</summary>
        public static bool Covers((UInt128 Lo, UInt128 Hi)[] outer, (UInt128 Lo, UInt128 Hi)[] inner)
        {
            foreach (var (lo, hi) in inner)
            {
                // The last outer interval starting at or before lo; merged intervals are disjoint.
                int a = 0, b = outer.Length - 1, found = -1;
                while (a <= b)
                {
                    int m = (a + b) >>> 1;
                    if (outer[m].Lo <= lo)
                    {
                        found = m;
                        a = m + 1;
                    }
                    else
                    {
                        b = m - 1;
                    }
                }
                if (found < 0 || outer[found].Hi < hi)
                    return false;
            }
            return true;
        }
    }

    /// <summary>
    /// Necessary conditions of <see cref="Covers"/> in one flat struct per rule (protocols, ICMP types, the hull
    /// of each port field), so that the rules-squared pairs mostly fail in a few compares. An absent field is the
    /// full byte set, or a port hull wider than any port (-1 to 65536): only an absent field contains it.
    /// </summary>
    private readonly struct QuickFacts
    {
        private readonly Bits256 _proto, _icmp;
        private readonly int _sportLo, _sportHi, _dportLo, _dportHi;

        public QuickFacts(Bits256? proto, Bits256? icmp, (UInt128 Lo, UInt128 Hi)[]? sport, (UInt128 Lo, UInt128 Hi)[]? dport)
        {
            _proto = proto ?? Bits256.Full;
            _icmp = icmp ?? Bits256.Full;
            (_sportLo, _sportHi) = Hull(sport);
            (_dportLo, _dportHi) = Hull(dport);
        }

        public bool MayCover(in QuickFacts later) =>
            _dportLo <= later._dportLo && later._dportHi <= _dportHi
            && _sportLo <= later._sportLo && later._sportHi <= _sportHi
            && later._proto.IsSubsetOf(_proto) && later._icmp.IsSubsetOf(_icmp);

        private static (int, int) Hull((UInt128 Lo, UInt128 Hi)[]? merged) =>
            merged is null ? (-1, 65536) : merged.Length == 0 ? (65536, -1) : ((int)merged[0].Lo, (int)merged[^1].Hi);
    }

    /// <summary>
    /// A set of byte values (protocols, ICMP types), as four 64-bit words (values 0-63, 64-127, ...): not UInt128,
    /// so that the rules-squared pre-check over it (<see cref="QuickFacts.MayCover"/> from <see cref="Warnings"/>) is
    /// precompiled (ReadyToRun), not JIT-compiled in a cold fwctl.
    /// </summary>
    private readonly record struct Bits256(ulong W0, ulong W1, ulong W2, ulong W3)
    {
        public static Bits256 Of(IEnumerable<byte> values)
        {
            ulong w0 = 0, w1 = 0, w2 = 0, w3 = 0;
            foreach (byte v in values)
            {
                ulong bit = 1UL << (v & 63);
                switch (v >> 6)
                {
                    case 0: w0 |= bit; break;
                    case 1: w1 |= bit; break;
                    case 2: w2 |= bit; break;
                    default: w3 |= bit; break;
                }
            }
            return new Bits256(w0, w1, w2, w3);
        }

        public static readonly Bits256 Full = new(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);

        public bool IsFull => (W0 & W1 & W2 & W3) == ulong.MaxValue;

        public bool IsSubsetOf(Bits256 other) =>
            (W0 & ~other.W0) == 0 && (W1 & ~other.W1) == 0 && (W2 & ~other.W2) == 0 && (W3 & ~other.W3) == 0;
    }
}
