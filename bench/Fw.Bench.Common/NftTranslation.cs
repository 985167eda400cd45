using System.Text;
using Fw.Rules;

namespace Fw.Bench;

/// <summary>The two nftables forms of a ruleset the benchmark compares.</summary>
public enum NftForm
{
    /// <summary>One nft rule per fw rule (per family and per alternative of its src/dst), in order, in the base chain.</summary>
    Plain,
    /// <summary>A verdict map on the family, then per family runs of alike rules merged into one concatenated set lookup.</summary>
    Best,
}

/// <summary>
/// A ruleset translated to nftables on the netdev ingress hook of one device, in both forms. One table holds
/// the named sets and the helper chains of both forms, and a base chain <c>ingress</c> whose rules are one form
/// or none (<see cref="Activate"/>, <see cref="Deactivate"/>): a switch is a flush and a re-add, the sets stay.
/// <para>
/// Semantics kept from rules/README.md: first match wins (the plain chain is in rule order; the best form merges
/// only consecutive rules with the same action and no overlapping elements, so the first match still decides,
/// and rules of one family never see packets of the other); an address field matches its family only; a
/// rule's src/dst is the union of its prefixes and sets (one nft rule per alternative); ports and tcp_flags
/// never match a non-first fragment (nft's <c>th</c> and <c>tcp</c> do not either); non-IP frames get
/// <c>non_ip</c> before any rule. Not translated: <c>malformed</c> (nft sees only what the stack parsed) and
/// VLAN tags (nft's <c>meta protocol</c> is the outer EtherType). Every rule counts, as fw does. Refused: a ruleset
/// with <c>state</c> or <c>track</c> (the netdev hook sees packets before conntrack does).
/// </para>
/// </summary>
public sealed class NftRuleset
{
    /// <summary>Cross products larger than this stay a rule of their own in the best form.</summary>
    public const int MaxMergedElements = 256;

    private readonly string _definitions;
    private readonly IReadOnlyList<string> _plain, _best;

    private NftRuleset(string table, string device, string definitions, IReadOnlyList<string> plain, IReadOnlyList<string> best, string bestSummary)
    {
        Table = table;
        Device = device;
        _definitions = definitions;
        _plain = plain;
        _best = best;
        BestSummary = bestSummary;
    }

    public string Table { get; }
    public string Device { get; }

    /// <summary>What the best form is made of (sets, their sizes, lone rules).</summary>
    public string BestSummary { get; }

    /// <summary>Rules in the base chain of a form.</summary>
    public int RuleCount(NftForm form) => Rules(form).Count;

    public IReadOnlyList<string> Rules(NftForm form) => form == NftForm.Plain ? _plain : _best;

    /// <summary>The table: sets, the best form's family chains, and an empty base chain (policy accept).</summary>
    public string TableScript() => _definitions;

    /// <summary>Makes the base chain run <paramref name="form"/>.</summary>
    public string Activate(NftForm form)
    {
        var sb = new StringBuilder(Deactivate());
        foreach (string r in Rules(form))
            sb.Append($"add rule netdev {Table} ingress {r}\n");
        return sb.ToString();
    }

    /// <summary>Empties the base chain: every frame is accepted untouched.</summary>
    public string Deactivate() => $"flush chain netdev {Table} ingress\n";

    /// <summary>The whole table with <paramref name="form"/> active, for one <c>nft -f</c>.</summary>
    public string Script(NftForm form) => TableScript() + Activate(form);

    public static NftRuleset Translate(Ruleset rs, string device, string table = "fw_bench")
    {
        // nft's netdev ingress hook runs before conntrack: a `state` rule has no translation there, and dropping it
        // would make the peer pass what fw drops.
        if (rs.UsesConntrack)
            throw new NotSupportedException($"{rs.File}: a ruleset with state or track has no nftables netdev translation (no conntrack at ingress)");
        var sets = new SetNames(rs);
        var variants = rs.Rules.SelectMany(r => Variants(r, sets)).ToList();
        var defs = new StringBuilder($"table netdev {table} {{\n");
        foreach (var (name, family, prefixes) in sets.Used())
        {
            defs.Append($"\tset {name} {{\n\t\ttype {AddrType(family)}\n\t\tflags interval\n\t\tauto-merge\n");
            if (prefixes.Count > 0)
                defs.Append("\t\telements = {\n").Append(string.Join(",\n", prefixes.Select(p => "\t\t\t" + Prefix(p)))).Append("\n\t\t}\n");
            defs.Append("\t}\n");
        }

        var summary = new List<string>();
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            var (rules, setDefs, what) = BestChain(variants.Where(v => v.Family is null || v.Family == family).ToList(), family);
            defs.Append(setDefs);
            defs.Append($"\tchain {BestChainName(family)} {{\n");
            foreach (string r in rules)
                defs.Append($"\t\t{r}\n");
            defs.Append($"\t\tcounter {Verdict(rs.Default)}\n\t}}\n");
            summary.Add($"{(family == IpFamily.V4 ? "IPv4" : "IPv6")}: {what}");
        }
        defs.Append($"\tchain ingress {{\n\t\ttype filter hook ingress device \"{device}\" priority 0; policy accept;\n\t}}\n}}\n");

        var plain = new List<string> { $"meta protocol != {{ ip, ip6 }} counter {Verdict(rs.NonIp)}" };
        plain.AddRange(variants.Select(v => v.Render()));
        plain.Add($"counter {Verdict(rs.Default)}");
        var best = new List<string>
        {
            $"meta protocol vmap {{ ip : jump {BestChainName(IpFamily.V4)}, ip6 : jump {BestChainName(IpFamily.V6)} }}",
            $"counter {Verdict(rs.NonIp)}",
        };
        return new NftRuleset(table, device, defs.ToString(), plain, best, string.Join("; ", summary));
    }

    private static string BestChainName(IpFamily f) => f == IpFamily.V4 ? "fw_best4" : "fw_best6";

    private static string AddrType(IpFamily f) => f == IpFamily.V4 ? "ipv4_addr" : "ipv6_addr";

    private static string Verdict(RuleAction a) => a == RuleAction.Pass ? "accept" : "drop";

    private static string Prefix(IpPrefix p) => p.Length == p.MaxLength ? p.ToIPAddress().ToString() : p.ToString();

    private static string Ports(IReadOnlyList<PortRange> ports) => ports.Count == 1 ? ports[0].ToString() : $"{{ {string.Join(", ", ports)} }}";

    private static string Numbers(IReadOnlyList<byte> xs) => xs.Count == 1 ? $"{xs[0]}" : $"{{ {string.Join(", ", xs)} }}";

    /// <summary>nft's names of the TCP flag bits (ECE is "ecn" there).</summary>
    private static string Flags(byte bits)
    {
        string[] names = ["fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"];
        var set = Enumerable.Range(0, 8).Where(b => (bits & 1 << b) != 0).Select(b => names[b]).ToList();
        return set.Count == 0 ? "0x0" : string.Join(" | ", set);
    }

    // ---- One fw rule as nft rules ---------------------------------------------------------------

    /// <summary>One address alternative: inline prefixes of a family, or a named set (by its nft name).</summary>
    private sealed record AddrAlt(IReadOnlyList<IpPrefix>? Prefixes, string? SetRef);

    /// <summary>
    /// One nft rule of a fw rule: a family (null: both, no address field), one alternative per address field,
    /// and the rule's other fields.
    /// </summary>
    private sealed record Variant(Rule Rule, IpFamily? Family, AddrAlt? Src, AddrAlt? Dst, IReadOnlyList<byte>? Proto)
    {
        private string Ip => Family == IpFamily.V6 ? "ip6" : "ip";

        public string Render()
        {
            var parts = new List<string>();
            if (Family is not null && Src is null && Dst is null)
                parts.Add($"meta protocol {Ip}");
            if (Src is not null)
                parts.Add($"{Ip} saddr {Addr(Src)}");
            if (Dst is not null)
                parts.Add($"{Ip} daddr {Addr(Dst)}");
            if (Proto is not null && Rule.IcmpType is null)
                parts.Add($"meta l4proto {Numbers(Proto)}");
            if (Rule.Sport is not null)
                parts.Add($"th sport {Ports(Rule.Sport)}");
            if (Rule.Dport is not null)
                parts.Add($"th dport {Ports(Rule.Dport)}");
            if (Rule.TcpFlags is { } tf)
                parts.Add($"tcp flags & ({Flags(tf.Mask)}) == {Flags(tf.Value)}");
            if (Rule.IcmpType is not null)
                parts.Add($"{(Family == IpFamily.V6 ? "icmpv6" : "icmp")} type {Numbers(Rule.IcmpType)}");
            parts.Add($"counter {Action(Rule)}");
            return string.Join(' ', parts);
        }

        private static string Addr(AddrAlt a) =>
            a.SetRef is not null ? "@" + a.SetRef : a.Prefixes!.Count == 1 ? Prefix(a.Prefixes[0]) : $"{{ {string.Join(", ", a.Prefixes!.Select(Prefix))} }}";

        /// <summary>Whether this rule can be one element group of a concatenated set: plain values, no flags, a small cross product.</summary>
        public bool Mergeable =>
            Src?.SetRef is null && Dst?.SetRef is null && Rule.TcpFlags is null && Rule.IcmpType is null
            && (Src is not null || Dst is not null || Proto is not null) && Elements().Take(MaxMergedElements + 1).Count() <= MaxMergedElements;

        /// <summary>Which fields the set key has: src, dst, proto, sport, dport.</summary>
        public (bool, bool, bool, bool, bool) Shape => (Src is not null, Dst is not null, Proto is not null, Rule.Sport is not null, Rule.Dport is not null);

        /// <summary>The cross product of the fields, each element one interval per field (lo, hi).</summary>
        public IEnumerable<(UInt128 Lo, UInt128 Hi, string Text)[]> Elements()
        {
            var fields = new List<List<(UInt128 Lo, UInt128 Hi, string Text)>>();
            if (Src is not null)
                fields.Add(Src.Prefixes!.Select(PrefixRange).ToList());
            if (Dst is not null)
                fields.Add(Dst.Prefixes!.Select(PrefixRange).ToList());
            if (Proto is not null)
                fields.Add(Proto.Select(p => ((UInt128)p, (UInt128)p, $"{p}")).ToList());
            if (Rule.Sport is not null)
                fields.Add(Rule.Sport.Select(r => ((UInt128)r.Low, (UInt128)r.High, r.ToString())).ToList());
            if (Rule.Dport is not null)
                fields.Add(Rule.Dport.Select(r => ((UInt128)r.Low, (UInt128)r.High, r.ToString())).ToList());
            IEnumerable<(UInt128 Lo, UInt128 Hi, string Text)[]> product = [[]];
            foreach (var f in fields)
                product = product.SelectMany(e => f.Select(v => e.Append(v).ToArray()));
            return product;
        }

        private static (UInt128 Lo, UInt128 Hi, string Text) PrefixRange(IpPrefix p) => (p.Bits, p.Bits | ~IpPrefix.MaskOf(p.Length), Prefix(p));
    }

    private static string Action(Rule r) => r.Action switch
    {
        RuleAction.Pass => "accept",
        RuleAction.Drop => "drop",
        _ => $"fwd to \"{r.To}\"",
    };

    /// <summary>The nft rules of one fw rule: per family (or once, without address fields), per src and dst alternative.</summary>
    private static IEnumerable<Variant> Variants(Rule r, SetNames sets)
    {
        if (r.Src is null && r.Dst is null && r.IcmpType is null)
        {
            yield return new Variant(r, null, null, null, r.Proto);
            yield break;
        }
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            var proto = r.Proto;
            if (r.IcmpType is not null)
            {
                byte icmp = family == IpFamily.V4 ? Ruleset.ProtoIcmp : Ruleset.ProtoIcmpV6;
                if (proto is not null && !proto.Contains(icmp))
                    continue;
                proto = [icmp];
            }
            var srcs = Alternatives(r.Src, family, sets);
            var dsts = Alternatives(r.Dst, family, sets);
            foreach (var s in srcs)
            {
                foreach (var d in dsts)
                    yield return new Variant(r, family, s, d, proto);
            }
        }
    }

    /// <summary>A field's alternatives in one family; [null] when the field is absent, [] when it cannot match there.</summary>
    private static List<AddrAlt?> Alternatives(AddressMatch? m, IpFamily family, SetNames sets)
    {
        if (m is null)
            return [null];
        var alts = new List<AddrAlt?>();
        var own = m.Prefixes.Where(p => p.Family == family).ToList();
        if (own.Count > 0)
            alts.Add(new AddrAlt(own, null));
        foreach (var s in m.Sets)
        {
            if (s.Prefixes.Any(p => p.Family == family))
                alts.Add(new AddrAlt(null, sets.Use(s, family)));
        }
        return alts;
    }

    /// <summary>nft names of the ruleset's sets, per family, and which of them the rules use.</summary>
    private sealed class SetNames(Ruleset rs)
    {
        private readonly Dictionary<(string, IpFamily), string> _used = [];
        private readonly List<string> _order = [];

        public string Use(PrefixSet s, IpFamily family)
        {
            if (!_used.TryGetValue((s.Name, family), out string? name))
            {
                string safe = new(s.Name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
                name = $"s{_used.Count}_{safe}_{(family == IpFamily.V4 ? "v4" : "v6")}";
                _used[(s.Name, family)] = name;
                _order.Add(name);
            }
            return name;
        }

        public IEnumerable<(string Name, IpFamily Family, IReadOnlyList<IpPrefix> Prefixes)> Used() =>
            _used.OrderBy(kv => _order.IndexOf(kv.Value))
                .Select(kv => (kv.Value, kv.Key.Item2, (IReadOnlyList<IpPrefix>)rs.Sets[kv.Key.Item1].Prefixes.Where(p => p.Family == kv.Key.Item2).Distinct().ToList()));
    }

    // ---- The best form ----------------------------------------------------------------------------

    /// <summary>
    /// One family's chain: consecutive mergeable rules with the same action and key shape, and no element
    /// overlapping one already in the group, become one concatenated-set lookup; the rest stay as they are.
    /// </summary>
    private static (List<string> Rules, string SetDefs, string Summary) BestChain(List<Variant> variants, IpFamily family)
    {
        var rules = new List<string>();
        var defs = new StringBuilder();
        var sizes = new List<int>();
        int lone = 0;
        string f = family == IpFamily.V4 ? "4" : "6";
        var group = new List<Variant>();
        var elements = new List<(UInt128 Lo, UInt128 Hi, string Text)[]>();

        void Flush()
        {
            if (group.Count == 1)
            {
                rules.Add(group[0].Render());
                lone++;
            }
            else if (group.Count > 1)
            {
                string name = $"g{f}_{sizes.Count}";
                var v = group[0];
                var (src, dst, proto, sport, dport) = v.Shape;
                var types = new List<string>();
                var keys = new List<string>();
                string ip = family == IpFamily.V6 ? "ip6" : "ip";
                if (src) { types.Add(AddrType(family)); keys.Add($"{ip} saddr"); }
                if (dst) { types.Add(AddrType(family)); keys.Add($"{ip} daddr"); }
                if (proto) { types.Add("inet_proto"); keys.Add("meta l4proto"); }
                if (sport) { types.Add("inet_service"); keys.Add("th sport"); }
                if (dport) { types.Add("inet_service"); keys.Add("th dport"); }
                defs.Append($"\tset {name} {{\n\t\ttype {string.Join(" . ", types)}\n\t\tflags interval\n\t\telements = {{\n");
                defs.Append(string.Join(",\n", elements.Select(e => "\t\t\t" + string.Join(" . ", e.Select(c => c.Text)))));
                defs.Append("\n\t\t}\n\t}\n");
                string prefix = !src && !dst ? $"meta protocol {ip} " : "";
                rules.Add($"{prefix}{string.Join(" . ", keys)} @{name} counter {Action(v.Rule)}");
                sizes.Add(elements.Count);
            }
            group.Clear();
            elements.Clear();
        }

        foreach (var v in variants)
        {
            if (!v.Mergeable)
            {
                Flush();
                rules.Add(v.Render());
                lone++;
                continue;
            }
            var mine = v.Elements().ToList();
            bool fits = group.Count > 0 && group[0].Shape == v.Shape && Action(group[0].Rule) == Action(v.Rule)
                && !mine.Any(e => elements.Any(o => Overlaps(e, o)));
            if (!fits)
                Flush();
            group.Add(v);
            elements.AddRange(mine);
        }
        Flush();
        string what = sizes.Count == 0 && lone == 0 ? "no rules"
            : $"{sizes.Count} concatenated set lookup(s) ({string.Join(", ", sizes.Select(s => $"{s:N0}"))} elements), {lone} rule(s) of their own";
        return (rules, defs.ToString(), what);
    }

    private static bool Overlaps((UInt128 Lo, UInt128 Hi, string)[] a, (UInt128 Lo, UInt128 Hi, string)[] b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i].Hi < b[i].Lo || b[i].Hi < a[i].Lo)
                return false;
        }
        return true;
    }
}
