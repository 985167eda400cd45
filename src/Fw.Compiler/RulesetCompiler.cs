using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Compiler;

/// <summary>
/// Compiles a validated ruleset into a <see cref="MapImage"/>: per field, every possible value is
/// mapped to an equivalence class (a distinct rule bit-vector), so the data plane does one lookup per
/// field and ANDs the vectors; the lowest set bit is the first matching rule. Pure: no kernel, no IO.
/// The loops over every value, interval and prefix run once per process (fwctl) or per reload (fwd). They hold
/// no UInt128 (addresses are ulong halves, see <see cref="Item"/>), so crossgen2 precompiles them into the
/// ReadyToRun fwctl and fwd: no JIT at start. The five over every prefix (Gather, AddressField, the sorts) stay
/// [AggressiveOptimization], JIT-compiled at full opt: measured (fwctl check of 4,096 rules and 1,000,000 prefixes,
/// interleaved), their precompiled code, which cannot inline across the framework, ran slower than the JIT took.
/// </summary>
public static class RulesetCompiler
{
    public static MapImage Compile(Ruleset rs)
    {
        var rules = rs.Rules;
        if (rules.Count > FwLimits.MaxRules)
            throw Bound(rs, rules[FwLimits.MaxRules].Pos, $"ruleset exceeds {FwLimits.MaxRules} rules");

        int words = (rules.Count + FwLimits.WordBits - 1) / FwLimits.WordBits;
        var liveSets = LiveSetSlots(rs, out int srcSets, out int dstSets);
        var entries = rules.Select(r => new RuleEntry(r.Name, r.Action, r.To, r.Track, r.LogEvery ?? 0)
        {
            Limit = r.Limit,
            AddToSlot = r.AddTo is { } set ? liveSets.First(s => s.Name == set.Name).Slot : null,
            AddTimeout = r.AddTo?.Timeout,
        }).ToArray();
        var conntrack = rs.UsesConntrack ? rs.Conntrack : null;
        var log = rs.UsesLog ? rs.Log : null;
        if (words == 0)
        {
            return new MapImage
            {
                Default = rs.Default, Malformed = rs.Malformed, NonIp = rs.NonIp,
                Words = 0, Fields = FieldMask.None, Rules = entries, Bitmaps = [], Conntrack = conntrack, Log = log,
                LiveSets = liveSets,
            };
        }

        // The address fields' prefixes are gathered and sorted on another thread while the small fields are
        // compiled here (pure work, no class interned); the tries are built on another thread while the next
        // field's classes are made here. Classes are interned on this thread in the one order as ever, so the
        // image is the same, byte for byte.
        bool hasSrc = rules.Any(r => r.Src is not null), hasDst = rules.Any(r => r.Dst is not null);
        var gathered = Task.Run(() => (
            Src4: hasSrc ? Gather(rules, r => r.Src, IpFamily.V4) : null,
            Src6: hasSrc ? Gather(rules, r => r.Src, IpFamily.V6) : null,
            Dst4: hasDst ? Gather(rules, r => r.Dst, IpFamily.V4) : null,
            Dst6: hasDst ? Gather(rules, r => r.Dst, IpFamily.V6) : null));
        var classes = new ClassTable(words, rs);
        var fields = FieldMask.None;
        uint[]? proto = null, sport = null, dport = null, flags = null, icmp = null, state = null;
        Poptrie<FwPopTail4>? src4 = null, dst4 = null;
        Poptrie<FwPopTail6>? src6 = null, dst6 = null;

        if (rules.Any(r => r.Proto is not null))
        {
            fields |= FieldMask.Proto;
            proto = ByteField(classes, rules, r => r.Proto is null ? null : v => r.Proto.Contains((byte)v), withAbsent: false);
        }
        if (rules.Any(r => r.Sport is not null))
        {
            fields |= FieldMask.Sport;
            sport = PortField(classes, rules, r => r.Sport);
        }
        if (rules.Any(r => r.Dport is not null))
        {
            fields |= FieldMask.Dport;
            dport = PortField(classes, rules, r => r.Dport);
        }
        if (rules.Any(r => r.TcpFlags is not null))
        {
            fields |= FieldMask.TcpFlags;
            flags = ByteField(classes, rules, r => r.TcpFlags is not { } f ? null : v => (v & f.Mask) == f.Value, withAbsent: true);
        }
        if (rules.Any(r => r.IcmpType is not null))
        {
            fields |= FieldMask.IcmpType;
            icmp = ByteField(classes, rules, r => r.IcmpType is null ? null : v => r.IcmpType.Contains((byte)v), withAbsent: true);
        }
        if (rules.Any(r => r.State is not null))
        {
            // enum fw_ct_state: 0 new, 1 established, 2 related; bit v of ConnState.
            fields |= FieldMask.State;
            state = ByteField(classes, rules, r => r.State is not { } s ? null : v => v < 3 && ((int)s & (1 << v)) != 0, withAbsent: false);
        }
        var (gSrc4, gSrc6, gDst4, gDst6) = gathered.GetAwaiter().GetResult();
        Task<Poptrie<FwPopTail4>>? src4Trie = null, dst4Trie = null;
        Task<Poptrie<FwPopTail6>>? src6Trie = null, dst6Trie = null;
        try
        {
            if (hasSrc)
            {
                fields |= FieldMask.Src;
                var entries4 = AddressField(classes, gSrc4!);
                src4Trie = Task.Run(() => Trie<FwPopTail4>(rs, "src", entries4));
                var entries6 = AddressField(classes, gSrc6!);
                src6Trie = Task.Run(() => Trie<FwPopTail6>(rs, "src", entries6));
            }
            if (hasDst)
            {
                fields |= FieldMask.Dst;
                var entries4 = AddressField(classes, gDst4!);
                dst4Trie = Task.Run(() => Trie<FwPopTail4>(rs, "dst", entries4));
                var entries6 = AddressField(classes, gDst6!);
                dst6Trie = Task.Run(() => Trie<FwPopTail6>(rs, "dst", entries6));
            }
        }
        catch (RulesException)
        {
            // Too many classes: a trie started before it that passed a bound was the error the one-by-one build met first.
            Tries();
            throw;
        }
        Tries();

        // In field order: of two tries past a bound, the first is reported, as when they were built one by one.
        void Tries()
        {
            src4 = src4Trie?.GetAwaiter().GetResult();
            src6 = src6Trie?.GetAwaiter().GetResult();
            dst4 = dst4Trie?.GetAwaiter().GetResult();
            dst6 = dst6Trie?.GetAwaiter().GetResult();
        }

        // Live set membership classes last, contiguous: class base + m for each membership m >= 1 of the field's slots.
        uint srcSetClass = srcSets > 0 ? MembershipClasses(classes, rules, liveSets, FieldMask.Src, r => r.Src) : 0;
        uint dstSetClass = dstSets > 0 ? MembershipClasses(classes, rules, liveSets, FieldMask.Dst, r => r.Dst) : 0;

        return new MapImage
        {
            Default = rs.Default, Malformed = rs.Malformed, NonIp = rs.NonIp,
            LiveSets = liveSets, SrcSets = srcSets, DstSets = dstSets, SrcSetClass = srcSetClass, DstSetClass = dstSetClass,
            Words = words, Fields = fields, Rules = entries, Bitmaps = classes.ToArray(),
            Proto = proto, Sport = sport, Dport = dport, TcpFlags = flags, IcmpType = icmp, State = state, Conntrack = conntrack, Log = log,
            Src4 = src4, Src6 = src6, Dst4 = dst4, Dst6 = dst6,
        };
    }

    /// <summary>fw_sets slots (bpf/fw_common.h).</summary>
    public const int SetSlots = 32, SetFieldSlots = 8, SrcSetSlot = 0, DstSetSlot = 8, OtherSetSlot = 16;

    /// <summary>
    /// The live sets' fw_sets slots: those rules name in src (name order) from slot 0, in dst from slot 8, the
    /// others (add_to targets, sets only fwctl fills) from slot 16. The reader keeps a ruleset within the slots.
    /// </summary>
    private static List<LiveSetSlot> LiveSetSlots(Ruleset rs, out int srcSets, out int dstSets)
    {
        var src = rs.Rules.SelectMany(r => r.Src?.Sets ?? []).Where(s => s.Dynamic).Select(s => s.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        var dst = rs.Rules.SelectMany(r => r.Dst?.Sets ?? []).Where(s => s.Dynamic).Select(s => s.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        var other = rs.LiveSets.Select(s => s.Name).Where(n => !src.Contains(n) && !dst.Contains(n)).ToList();
        if (src.Count > SetFieldSlots || dst.Count > SetFieldSlots || other.Count > SetSlots - OtherSetSlot)
        {
            throw Bound(rs, rs.PosOf("sets"), $"ruleset names more live sets than the data plane has slots for "
                + $"(at most {SetFieldSlots} in src, {SetFieldSlots} in dst, {SetSlots - OtherSetSlot} others)");
        }
        srcSets = src.Count;
        dstSets = dst.Count;
        var slots = new List<LiveSetSlot>();
        Add(src, SrcSetSlot, FieldMask.Src);
        Add(dst, DstSetSlot, FieldMask.Dst);
        Add(other, OtherSetSlot, FieldMask.None);
        return slots;

        void Add(List<string> names, int first, FieldMask field)
        {
            for (int i = 0; i < names.Count; i++)
            {
                var set = rs.Sets[names[i]];
                slots.Add(new LiveSetSlot(first + i, set.Name, set.Timeout, set.Max, field));
            }
        }
    }

    /// <summary>
    /// The membership classes of one address field: for each m in 1 .. 2^n - 1 (bit j: the address is in the live
    /// set of the field's slot j), the rules that name one of those sets in the field. Appended, not interned, so
    /// that class base + m is m's class; returns the base.
    /// </summary>
    private static uint MembershipClasses(ClassTable classes, IReadOnlyList<Rule> rules, IReadOnlyList<LiveSetSlot> slots,
        FieldMask field, Func<Rule, AddressMatch?> select)
    {
        var mine = slots.Where(s => s.Field == field).OrderBy(s => s.Slot).ToList();
        // Per rule, the bits of the field's slots it names.
        var named = new int[rules.Count];
        for (int r = 0; r < rules.Count; r++)
        {
            foreach (var s in select(rules[r])?.Sets ?? [])
            {
                int j = mine.FindIndex(x => x.Name == s.Name);
                if (s.Dynamic && j >= 0)
                    named[r] |= 1 << j;
            }
        }
        uint first = 0;
        var v = classes.NewVector();
        for (int m = 1; m < 1 << mine.Count; m++)
        {
            Array.Clear(v);
            for (int r = 0; r < rules.Count; r++)
            {
                if ((named[r] & m) != 0)
                    Set(v, r);
            }
            uint id = classes.Append(v);
            if (m == 1)
                first = id;
        }
        return first - 1;
    }

    private static RulesException Bound(Ruleset rs, SourcePos pos, string message) =>
        new([new Diagnostic(Severity.Error, pos, message)]);

    /// <summary>The Poptrie of one field and family; past the data plane's bounds, an error at the field's first use.</summary>
    private static Poptrie<TTail> Trie<TTail>(Ruleset rs, string field, LpmEntry[] entries)
        where TTail : unmanaged, IPopTail<TTail>
    {
        try
        {
            return PoptrieBuilder.Build<TTail>(entries);
        }
        catch (PoptrieBoundException e)
        {
            var first = rs.Rules.First(r => (field == "src" ? r.Src : r.Dst) is not null);
            string family = TTail.Width == 32 ? "IPv4" : "IPv6";
            throw new RulesException([new Diagnostic(Severity.Error, first.PosOf(field),
                $"the {family} {field} prefixes need more than {e.Limit:N0} lookup-trie {e.What}, the data plane's bound per "
                + "address field and family (prefixes that share long runs of leading bits cost the most)", field.Length)]);
        }
    }

    /// <summary>A field with at most 256 values (proto, tcp flags, icmp type), plus the absent slot.</summary>
    private static uint[] ByteField(ClassTable classes, IReadOnlyList<Rule> rules,
        Func<Rule, Func<int, bool>?> allows, bool withAbsent)
    {
        var preds = rules.Select(allows).ToArray();
        var table = new uint[withAbsent ? FwLimits.ByteAbsent + 1 : 256];
        var v = classes.NewVector();
        for (int value = 0; value < 256; value++)
        {
            Array.Clear(v);
            for (int r = 0; r < preds.Length; r++)
            {
                if (preds[r] is not { } p || p(value))
                    Set(v, r);
            }
            table[value] = classes.Intern(v);
        }
        if (withAbsent)
            table[FwLimits.ByteAbsent] = classes.Intern(Wildcards(classes, preds.Select(p => p is null)));
        return table;
    }

    /// <summary>
    /// sport / dport: a sweep over the elementary intervals between range endpoints, each interval
    /// one class; index 65536 holds the class of packets without ports (rules without the field).
    /// </summary>
    private static uint[] PortField(ClassTable classes, IReadOnlyList<Rule> rules, Func<Rule, IReadOnlyList<PortRange>?> field)
    {
        // Events: +1 for rule r at lo, -1 at hi + 1. A rule's bit is set while its count is positive.
        var events = new List<(int At, int Rule, int Delta)>();
        var wild = new bool[rules.Count];
        for (int r = 0; r < rules.Count; r++)
        {
            var ranges = field(rules[r]);
            if (ranges is null)
            {
                wild[r] = true;
                continue;
            }
            foreach (var range in ranges)
            {
                events.Add((range.Low, r, +1));
                events.Add((range.High + 1, r, -1));
            }
        }
        events.Sort((a, b) => a.At.CompareTo(b.At));

        var table = new uint[FwLimits.PortAbsent + 1];
        var wildVec = Wildcards(classes, wild);
        var count = new int[rules.Count];
        var current = (ulong[])wildVec.Clone();
        int e = 0;
        int start = 0;
        while (start <= 65535)
        {
            while (e < events.Count && events[e].At == start)
            {
                var (_, r, d) = events[e++];
                count[r] += d;
                if (count[r] > 0)
                    Set(current, r);
                else if (!wild[r])
                    Clear(current, r);
            }
            int end = e < events.Count ? Math.Min(events[e].At, 65536) : 65536;
            uint cls = classes.Intern(current);
            table.AsSpan(start, end - start).Fill(cls);
            start = end;
        }
        table[FwLimits.PortAbsent] = classes.Intern(wildVec);
        return table;
    }

    /// <summary>
    /// The prefixes of one address field and family, each with the rules that name it (<see cref="OwnerLists"/>),
    /// sorted by address then length; no class is made (pure: runs on another thread, see <see cref="Compile"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Gathered Gather(IReadOnlyList<Rule> rules, Func<Rule, AddressMatch?> field, IpFamily family)
    {
        var owners = new OwnerLists();
        var wild = new bool[rules.Count];
        var items = new Item[CountPrefixes(rules, field, family)];
        int count = 0;
        // A set named by several rules is walked once, with the list of those rules.
        var setRules = new Dictionary<PrefixSet, List<int>>(ReferenceEqualityComparer.Instance);
        for (int r = 0; r < rules.Count; r++)
        {
            var m = field(rules[r]);
            if (m is null)
            {
                wild[r] = true;
                continue;
            }
            int own = owners.Intern([r]);
            foreach (var p in Span(m.Prefixes))
            {
                if (p.Family == family)
                    items[count++] = new Item(p.Hi, p.Lo, p.Length, own);
            }
            foreach (var s in m.Sets)
            {
                if (!setRules.TryGetValue(s, out var list))
                    setRules[s] = list = [];
                if (list.Count == 0 || list[^1] != r)
                    list.Add(r);
            }
        }
        foreach (var (set, list) in setRules)
        {
            int own = owners.Intern(list.ToArray());
            foreach (var p in Span(set.Prefixes))
            {
                if (p.Family == family)
                    items[count++] = new Item(p.Hi, p.Lo, p.Length, own);
            }
        }

        return new Gathered(owners, wild, Item.Sort(items, count, family), count);
    }

    /// <summary>One address field and family gathered: its rules' owner lists, the rules without it, its items sorted.</summary>
    private sealed record Gathered(OwnerLists Owners, bool[] Wild, Item[] Sorted, int Count);

    /// <summary>
    /// One address field of one family. Each distinct prefix P gets the class of every rule naming a
    /// prefix that contains P (its ancestors and itself), plus the rules without the field. A /0
    /// entry always exists, so every lookup finds a class. Entries whose class equals their nearest
    /// ancestor's are left out: the longest match then lands on that ancestor, same class. The result
    /// is sorted by address then length, the /0 first, as <see cref="PoptrieBuilder"/> wants it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static LpmEntry[] AddressField(ClassTable classes, Gathered g)
    {
        var (owners, wild) = (g.Owners, g.Wild);
        var span = g.Sorted.AsSpan(0, g.Count);

        var rootVec = Wildcards(classes, wild);
        int i = 0;
        // The /0 entries, if any, are the root's own rules.
        while (i < span.Length && span[i].Length == 0)
            OrRules(rootVec, owners[span[i++].Own]);
        uint root = classes.Intern(rootVec);

        var result = new List<LpmEntry>(Math.Min(span.Length - i + 1, 1 << 20)) { new(0UL, 0UL, 0, root) };
        // The chain of ancestors of the current prefix: lengths strictly grow along it, so at most 129 deep.
        var stack = new (ulong Hi, ulong Lo, byte Length, uint Class)[129];
        stack[0] = (0, 0, 0, root);
        int top = 0;
        var memo = new Dictionary<(uint Parent, int Own), uint>();
        var scratch = classes.NewVector();
        while (i < span.Length)
        {
            var it = span[i];
            int own = it.Own;
            // Duplicates of the same prefix from several rules or sets: union of their owners.
            int j = i + 1;
            while (j < span.Length && span[j].Hi == it.Hi && span[j].Lo == it.Lo && span[j].Length == it.Length)
            {
                own = owners.Union(own, span[j].Own);
                j++;
            }
            i = j;

            while (!Contains(stack[top].Hi, stack[top].Lo, stack[top].Length, it.Hi, it.Lo, it.Length))
                top--;
            uint parent = stack[top].Class;
            if (!memo.TryGetValue((parent, own), out uint cls))
            {
                classes.Bitmap(parent).CopyTo(scratch);
                OrRules(scratch, owners[own]);
                cls = classes.Intern(scratch);
                memo[(parent, own)] = cls;
            }
            stack[++top] = (it.Hi, it.Lo, it.Length, cls);
            if (cls != parent)
                result.Add(new LpmEntry(it.Hi, it.Lo, it.Length, cls));
        }
        return result.ToArray();
    }

    /// <summary>The items of one address field and family (a set named twice counts once): sizes the list once.</summary>
    private static int CountPrefixes(IReadOnlyList<Rule> rules, Func<Rule, AddressMatch?> field, IpFamily family)
    {
        int n = 0;
        var seen = new HashSet<PrefixSet>(ReferenceEqualityComparer.Instance);
        foreach (var r in rules)
        {
            if (field(r) is not { } m)
                continue;
            n += Count(m.Prefixes);
            foreach (var s in m.Sets)
            {
                if (seen.Add(s))
                    n += Count(s.Prefixes);
            }
        }
        return n;

        int Count(IReadOnlyList<IpPrefix> prefixes)
        {
            int c = 0;
            foreach (var p in Span(prefixes))
                c += p.Family == family ? 1 : 0;
            return c;
        }
    }

    /// <summary>A prefix list as a span: no enumerator through the interface for each of a million prefixes.</summary>
    private static ReadOnlySpan<IpPrefix> Span(IReadOnlyList<IpPrefix> prefixes) => prefixes switch
    {
        List<IpPrefix> list => CollectionsMarshal.AsSpan(list),
        IpPrefix[] array => array,
        _ => prefixes.ToArray(),
    };

    /// <summary>Whether prefix hi:lo/length contains otherHi:otherLo/otherLength (on the halves: precompiled, see <see cref="Item"/>).</summary>
    private static bool Contains(ulong hi, ulong lo, int length, ulong otherHi, ulong otherLo, int otherLength) =>
        otherLength >= length && (otherHi & IpPrefix.MaskHi(length)) == hi && (otherLo & IpPrefix.MaskLo(length)) == lo;

    private static ulong[] Wildcards(ClassTable classes, IEnumerable<bool> wild)
    {
        var v = classes.NewVector();
        int r = 0;
        foreach (bool w in wild)
        {
            if (w)
                Set(v, r);
            r++;
        }
        return v;
    }

    private static void OrRules(ulong[] v, int[] rules)
    {
        foreach (int r in rules)
            Set(v, r);
    }

    private static void Set(ulong[] v, int rule) => v[rule >> 6] |= 1UL << (rule & 63);

    private static void Clear(ulong[] v, int rule) => v[rule >> 6] &= ~(1UL << (rule & 63));

    /// <summary>
    /// A prefix of one address field and its owner list. The address is its two ulong halves, as in <see cref="IpPrefix"/>:
    /// code over a UInt128 is not precompiled (ReadyToRun), and the sorts and sweeps over a million items would be JIT-compiled
    /// in every cold fwctl.
    /// </summary>
    private readonly record struct Item(ulong Hi, ulong Lo, byte Length, int Own)
    {
        /// <summary>
        /// The first <paramref name="count"/> items by address, then shorter first (ancestors before their
        /// descendants): <paramref name="items"/> sorted in place, or a new array. Sorting was most of a compile:
        /// IPv4 items (most of a blocklist) sort as one 64-bit word each (address, length, index) with a radix
        /// sort; IPv6 with a quicksort written out here, optimized from its first call (the BCL's sort over this
        /// struct starts at tier 0).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Item[] Sort(Item[] items, int count, IpFamily family)
        {
            if (family == IpFamily.V4 && count < 1 << 24)
            {
                var keys = new ulong[count];
                for (int k = 0; k < count; k++)
                    keys[k] = items[k].Hi >> 32 << 32 | (ulong)items[k].Length << 24 | (uint)k;
                RadixSort(keys, firstByte: 3);   // bytes 0-2 hold the index: never compared, kept in order
                var sorted = new Item[count];
                for (int k = 0; k < count; k++)
                    sorted[k] = items[(int)(keys[k] & 0xffffff)];
                return sorted;
            }
            QuickSort(items.AsSpan(0, count), 2 * (BitOperations.Log2((uint)Math.Max(count, 1)) + 1));
            return items;
        }

        /// <summary>LSD radix sort of words on their bytes from <paramref name="firstByte"/> up; stable.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RadixSort(ulong[] keys, int firstByte)
        {
            var buffer = new ulong[keys.Length];
            var counts = new int[256];
            var src = keys;
            var dst = buffer;
            for (int shift = 8 * firstByte; shift < 64; shift += 8)
            {
                Array.Clear(counts);
                foreach (ulong key in src)
                    counts[(int)(key >> shift) & 0xff]++;
                int sum = 0;
                for (int b = 0; b < 256; b++)
                    (counts[b], sum) = (sum, sum + counts[b]);
                foreach (ulong key in src)
                    dst[counts[(int)(key >> shift) & 0xff]++] = key;
                (src, dst) = (dst, src);
            }
            if (src != keys)
                src.CopyTo(keys, 0);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool Less(in Item x, in Item y) =>
            x.Hi != y.Hi ? x.Hi < y.Hi : x.Lo != y.Lo ? x.Lo < y.Lo : x.Length < y.Length;

        /// <summary>Quicksort (median of three, insertion sort below 16); past <paramref name="depth"/>, the BCL's introsort.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void QuickSort(Span<Item> a, int depth)
        {
            while (a.Length > 16)
            {
                if (depth-- == 0)
                {
                    a.Sort((x, y) => Less(x, y) ? -1 : Less(y, x) ? 1 : 0);
                    return;
                }
                int mid = a.Length >> 1, last = a.Length - 1;
                if (Less(a[mid], a[0]))
                    (a[mid], a[0]) = (a[0], a[mid]);
                if (Less(a[last], a[0]))
                    (a[last], a[0]) = (a[0], a[last]);
                if (Less(a[last], a[mid]))
                    (a[last], a[mid]) = (a[mid], a[last]);
                var pivot = a[mid];
                int i = 0, j = last;
                while (true)
                {
                    while (Less(a[i], pivot))
                        i++;
                    while (Less(pivot, a[j]))
                        j--;
                    if (i >= j)
                        break;
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
                // a[..(j + 1)] <= pivot <= a[(j + 1)..]: recurse into the smaller part, loop on the larger.
                var left = a[..(j + 1)];
                var right = a[(j + 1)..];
                if (left.Length < right.Length)
                {
                    QuickSort(left, depth);
                    a = right;
                }
                else
                {
                    QuickSort(right, depth);
                    a = left;
                }
            }
            for (int k = 1; k < a.Length; k++)
            {
                var x = a[k];
                int m = k - 1;
                while (m >= 0 && Less(x, a[m]))
                {
                    a[m + 1] = a[m];
                    m--;
                }
                a[m + 1] = x;
            }
        }
    }

    /// <summary>Interned sorted lists of rule indexes: the rules that name one prefix.</summary>
    private sealed class OwnerLists
    {
        private readonly List<int[]> _lists = [];
        private readonly Dictionary<string, int> _ids = [];
        private readonly Dictionary<(int, int), int> _unions = [];

        public int[] this[int id] => _lists[id];

        public int Intern(int[] sorted)
        {
            string key = string.Join(',', sorted);
            if (!_ids.TryGetValue(key, out int id))
            {
                id = _lists.Count;
                _lists.Add(sorted);
                _ids[key] = id;
            }
            return id;
        }

        public int Union(int a, int b)
        {
            if (a == b)
                return a;
            if (a > b)
                (a, b) = (b, a);
            if (!_unions.TryGetValue((a, b), out int id))
            {
                id = Intern(_lists[a].Union(_lists[b]).Order().ToArray());
                _unions[(a, b)] = id;
            }
            return id;
        }
    }

    /// <summary>Distinct rule bit-vectors, each stored once with its summary word; the id is the class.</summary>
    private sealed class ClassTable(int words, Ruleset rs)
    {
        private readonly List<ulong> _rows = [];
        private readonly Dictionary<VectorKey, uint> _ids = [];

        public ulong[] NewVector() => new ulong[words];

        public uint Intern(ulong[] vector)
        {
            var key = new VectorKey(vector);
            if (_ids.TryGetValue(key, out uint id))
                return id;
            var copy = (ulong[])vector.Clone();
            id = AppendOwned(copy);
            _ids[new VectorKey(copy)] = id;
            return id;
        }

        /// <summary>A class of its own for <paramref name="vector"/>, even if another has the same rules (contiguous ranges).</summary>
        public uint Append(ulong[] vector) => AppendOwned((ulong[])vector.Clone());

        private uint AppendOwned(ulong[] copy)
        {
            uint id = (uint)(_rows.Count / (1 + words));
            if (id >= FwLimits.MaxClasses)
            {
                throw new RulesException([new Diagnostic(Severity.Error, new SourcePos(rs.File, 1, 1),
                    $"ruleset needs more than {FwLimits.MaxClasses} distinct rule combinations across its fields")]);
            }
            ulong summary = 0;
            for (int w = 0; w < words; w++)
            {
                if (copy[w] != 0)
                    summary |= 1UL << w;
            }
            _rows.Add(summary);
            _rows.AddRange(copy);
            return id;
        }

        public ReadOnlySpan<ulong> Bitmap(uint cls) => CollectionsMarshal.AsSpan(_rows).Slice((int)cls * (1 + words) + 1, words);

        public ulong[] ToArray() => _rows.ToArray();
    }

    private readonly struct VectorKey(ulong[] v) : IEquatable<VectorKey>
    {
        private readonly ulong[] _v = v;

        public bool Equals(VectorKey other) => _v.AsSpan().SequenceEqual(other._v);

        public override bool Equals(object? obj) => obj is VectorKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.AddBytes(MemoryMarshal.AsBytes(_v.AsSpan()));
            return h.ToHashCode();
        }
    }
}
