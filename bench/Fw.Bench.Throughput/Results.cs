using System.Globalization;
using System.Text;
using Fw.Lab;

namespace Fw.Bench.Throughput;

/// <summary>
/// What a system counted over one measurement, warm-up included: frames its counter of the mix's rule (or the
/// default) counted, frames the interface received, flows put into fw's table (null: no table).
/// </summary>
/// <param name="Log">fw's packet-log counters over the measurement (null: no log in the ruleset).</param>
/// <param name="Limits">fw's limit checks over the measurement (null: no limit in the ruleset).</param>
public readonly record struct Tally(ulong Counted, ulong Rx, ulong? Inserted, LogCounts? Log = null, LimitChecks? Limits = null)
{
    /// <summary>The least share of an established mix's frames the `established` rule must count (all but each flow's first).</summary>
    public const double AllButFirst = 0.999;

    public double Share => Rx == 0 ? double.NaN : (double)Counted / Rx;
}

/// <summary>
/// Every measurement of a run, and what is written from them: throughput.md (tables, targets, machine facts),
/// throughput.csv (one row per scenario) and throughput.png (gnuplot). Real-traffic figures are medians of the
/// measurements with their spread (min-max), by two per-packet measures (<see cref="Rate.ProgNs"/>: the attached
/// program's ns from the kernel's BPF statistics; <see cref="Rate.PathNs"/>: the whole path's ns per frame on one
/// CPU) and as delivered frames per wall-clock second. Added ns are medians of each measurement less the bare
/// XDP_DROP measurement paired with it, so drift of the machine cancels.
/// </summary>
public sealed class Results(Options o, IReadOnlyList<(string Key, string Value)> machine)
{
    public const string Bare = "bare XDP_DROP";

    private const string NoMatch = "no match";

    private const string Established = "established";

    private const string Stateful = FwSut.StatefulName;

    private static readonly Key BareKey = new(Bare, 0, 0, true, NoMatch);

    /// <summary>The floor (bench/bpf/floor.bpf.c), measured like bare XDP_DROP: no ruleset.</summary>
    private static readonly Key FloorKey = new(FloorSut.FloorName, 0, 0, true, NoMatch);

    /// <summary>The peers fw is held against on the whole path, in table order.</summary>
    private static readonly string[] Rivals = ["xdp-filter", "nft sets (best form)", "nft plain chain"];

    private readonly Dictionary<Key, List<Rate>> _live = [];
    private readonly Dictionary<Key, List<Rate>> _pairedBare = [];
    private readonly Dictionary<Key, List<Tally>> _tallies = [];
    private readonly List<Key> _order = [];
    private Rate? _lastBare;

    public List<double> CostBare { get; } = [];
    public List<CostResult> Cost { get; } = [];
    public List<string> PeerNotes { get; } = [];

    /// <summary>The traffic sources compared on one CPU (<see cref="SenderCheck"/>), when measured.</summary>
    public List<SenderFigure> Senders { get; } = [];

    private readonly record struct Key(string Sut, int Rules, int Prefixes, bool DefaultDrop, string Mix);

    /// <summary>
    /// A measurement, with what the system counted over it (null: it counts nothing); each is paired with the bare
    /// XDP_DROP measurement nearest before it in time.
    /// </summary>
    public void Add(string sut, RulesetCase? c, Mix mix, Rate r, Tally? tally = null)
    {
        var k = new Key(sut, c?.Rules ?? 0, c?.Prefixes ?? 0, c?.DefaultDrop ?? true, mix.Name);
        if (!_live.TryGetValue(k, out var list))
        {
            _live[k] = list = [];
            _pairedBare[k] = [];
            _tallies[k] = [];
            _order.Add(k);
        }
        if (tally is Tally t)
            _tallies[k].Add(t);
        if (sut == Bare)
            _lastBare = r;
        list.Add(r);
        _pairedBare[k].Add(_lastBare ?? r);
    }

    private static CultureInfo Inv => CultureInfo.InvariantCulture;

    private double BareCost => Stats.Median(CostBare);

    /// <summary>A median with its spread; NaN throughout when nothing was measured.</summary>
    private readonly record struct Figure(double Median, double Min, double Max)
    {
        public static Figure Of(IReadOnlyCollection<double> xs) => new(Stats.Median(xs), Stats.Min(xs), Stats.Max(xs));
    }

    /// <summary>One scenario's figures; the program ones are NaN for a system with no XDP program (nftables).</summary>
    private sealed record LiveFigure(Figure Prog, double ProgAdded, Figure Path, double PathAdded, Figure Rx, int Runs);

    private LiveFigure? Live(Key k)
    {
        if (!_live.TryGetValue(k, out var rs))
            return null;
        // Added ns are medians of per-measurement differences to the paired bare measurement: drift cancels.
        var bare = _pairedBare[k];
        var prog = rs.Where(r => r.ProgNs is not null).Select(r => r.ProgNs!.Value).ToList();
        var progAdded = rs.Select((r, i) => r.ProgNs - bare[i].ProgNs).Where(d => d is not null).Select(d => d!.Value).ToList();
        var pathAdded = rs.Select((r, i) => r.PathNs - bare[i].PathNs).ToList();
        return new LiveFigure(Figure.Of(prog), Stats.Median(progAdded), Figure.Of(rs.Select(r => r.PathNs).ToList()), Stats.Median(pathAdded),
            Figure.Of(rs.Select(r => r.RxPps).ToList()), rs.Count);
    }

    private LiveFigure? BareLive => Live(BareKey);

    /// <summary>Whether fw was measured anywhere but at the peers' ruleset (a quick run measures only that one).</summary>
    private bool FwGrid => _live.Keys.Any(k => k.Sut == "fw" && (k.Rules, k.Prefixes) != (o.PeerRules, o.PeerPrefixes));

    private CostResult? CostOf(int rules, int prefixes, bool defaultDrop, string mix, bool stateful = false) =>
        Cost.FirstOrDefault(c => c.Case.Rules == rules && c.Case.Prefixes == prefixes && c.Case.DefaultDrop == defaultDrop && c.Case.Stateful == stateful && c.Mix.Name == mix);

    public void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "throughput.md"), Markdown());
        File.WriteAllText(Path.Combine(dir, "throughput.csv"), Csv());
        File.WriteAllText(Path.Combine(dir, "throughput-summary.md"), ReadmeSummary());
        Plot(Path.Combine(dir, "throughput.png"));
    }

    // ---- Markdown -------------------------------------------------------------------------------------

    private static string Mpps(double pps) => double.IsNaN(pps) ? "—" : (pps / 1e6).ToString("N3", Inv);

    private static string Pct(double share) => (share * 100).ToString(share < 0.1 ? "N1" : "N0", Inv) + "%";

    /// <summary>An added cost, signed; "—" when not measured.</summary>
    private static string Ns(double ns) =>
        double.IsNaN(ns) ? "—" : Math.Abs(ns) >= 10_000 ? $"{ns / 1000:+#,0.0;-#,0.0} µs" : ns.ToString("+#,0.0;-#,0.0", Inv) + " ns";

    /// <summary>A cost in ns without its unit (for table cells headed "ns"); "—" when not measured.</summary>
    private static string Plain(double ns) => double.IsNaN(ns) ? "—" : ns.ToString(Math.Abs(ns) >= 1000 ? "N0" : "N1", Inv);

    private static string Spread(Figure f) => double.IsNaN(f.Median) ? "—" : $"{Plain(f.Min)}-{Plain(f.Max)}";

    private string Fact(string key) => machine.FirstOrDefault(m => m.Key == key).Value ?? "unknown";

    private string RunCommand => o.Quick ? "sudo bench/run --quick" : "sudo bench/run";

    private string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine("# fw throughput: real traffic (AF_PACKET into a veth) and per-packet cost");
        md.AppendLine();
        md.AppendLine($"Command: `{RunCommand}` (Fw.Bench.Throughput {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}). Written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        md.AppendLine();
        foreach (var (k, v) in machine)
            md.AppendLine($"- **{k}**: {v}");
        md.AppendLine($"- **packet mixes** (the sender rewrites the varied fields of each frame in its TX ring; checksums not fixed up): " +
            "*first rule*: TCP from 198.19.0.0/16, source and destination ports varied, which the set's 256 /24s cover (with no set: rule r0, its /32, source port and destination address varied); " +
            "*last rule*: UDP to the last rule's port from its /32 (the last rule is alike at every rule count), source port and destination varied; " +
            "*no match*: 3 IPv4 to 1 IPv6 TCP ACK frames from 198.18.128.0/17 and 2001:db8:4000::/34, source and destination ports varied over 32768-65535: no rule, no set prefix" +
            (StateMeasured ? $"; *established* (fw + state): {EstablishedMixText}." : "."));
        md.AppendLine("- **rulesets** (bench/Fw.Bench.Common/Synthetic.cs): rule 0 `src: \"@big\"` (the set; 80% IPv4 /16-/32, 20% IPv6 /48-/128, blocklist-like), then rules of their own /32 or /64 source, protocol and port, all `action: drop`; `default: drop`" +
            (StateMeasured ? $"; fw + state: {StateRulesText}" : "") +
            (_live.ContainsKey(LiveLimitKey) ? $"; fw + live set + limit: {LiveLimitRulesText}." : "."));
        md.AppendLine("- Figures from the earlier live-frames method (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, up to 2026-12-01) are not comparable with these: " +
            "that generator ran the receiver's NAPI after XDP batches with no skb and no socket in between; here every frame is an skb sent through AF_PACKET and veth, and the kernel times the program itself.");
        md.AppendLine();

        md.Append(Summary("##", "throughput.png"));
        md.Append(Grid());
        md.Append(SenderSection());
        return md.ToString();
    }

    /// <summary>The traffic sources on one CPU: why the benchmark and the tests send with PacketSender.</summary>
    private string SenderSection()
    {
        if (Senders.Count == 0)
            return "";
        var md = new StringBuilder();
        md.AppendLine("## The traffic source, on one CPU");
        md.AppendLine();
        md.AppendLine("Each sender alone on CPU 0, the no-match IPv4 template with source address and ports varied per frame, into the bench veth with bare XDP_DROP on the other end; " +
            "CPU time per frame (send, veth and the receive softirq, all on that CPU), median and spread of alternating rounds in this run.");
        md.AppendLine();
        md.AppendLine("| sender | ns per frame | spread | frames per CPU-second |");
        md.AppendLine("|---|---:|---|---:|");
        foreach (var f in Senders)
            md.AppendLine($"| {f.Sender} | {f.Median:N1} | {f.NsPerFrame.Min():N0}-{f.NsPerFrame.Max():N0} | {Mpps(1e9 / f.Median)} M |");
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>fw over every measured ruleset and mix, real traffic beside TEST_RUN; empty when neither grid was measured.</summary>
    private string Grid()
    {
        var liveRows = FwGrid ? _order.Where(k => k.Sut == "fw").Select(k => (k.Rules, k.Prefixes, k.Mix)) : [];
        var rows = Cost.Where(c => c.Case.DefaultDrop && !c.Case.Stateful).Select(c => (c.Case.Rules, c.Case.Prefixes, Mix: c.Mix.Name))
            .Union(liveRows)
            .OrderBy(r => r.Prefixes).ThenBy(r => r.Rules).ThenBy(r => MixOrder(r.Mix)).ToList();
        if (rows.Count == 0)
            return "";
        var md = new StringBuilder();
        var b = BareLive;
        md.AppendLine("## fw over the grid");
        md.AppendLine();
        if (FwGrid)
            md.AppendLine("Real traffic, medians of the measurements: *program*: ns per packet of the attached dispatcher by the kernel's BPF statistics (run_time_ns / run_cnt, the classifier's tail call included); " +
                "*whole path*: the sending threads' CPU time per frame, the receiving veth's softirq included; *added*: each measurement less the bare XDP_DROP measurement beside it in time " +
                $"(bare: program {Plain(b?.Prog.Median ?? double.NaN)} ns, whole path {Plain(b?.Path.Median ?? double.NaN)} ns); *delivered*: frames received per wall-clock second.");
        if (Cost.Count > 0)
            md.AppendLine($"TEST_RUN: BPF_PROG_TEST_RUN of the classifier alone (no dispatcher tail call), repeat {o.Repeat:N0}, one frame of the mix (the first template; warm caches), median of {o.Runs}; bare XDP_DROP {BareCost:N1} ns.");
        md.AppendLine();
        md.AppendLine("| rules | prefixes | mix | program ns | added ns (program) | whole path ns | added ns (whole path) | delivered Mpps | TEST_RUN ns | spread | + ns over bare |");
        md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var (rules, prefixes, mix) in rows)
        {
            var f = FwGrid ? Live(new Key("fw", rules, prefixes, true, mix)) : null;
            var c = CostOf(rules, prefixes, true, mix);
            string live = f is null ? "| | | | | " : $"| {Plain(f.Prog.Median)} | {Ns(f.ProgAdded)} | {Plain(f.Path.Median)} | {Ns(f.PathAdded)} | {Mpps(f.Rx.Median)} ";
            string cost = c is null ? "| | | " : $"| {c.Median:N1} | {c.Ns.Min():N0}-{c.Ns.Max():N0} | {Ns(c.Median - BareCost)} ";
            md.AppendLine($"| {rules:N0} | {prefixes:N0} | {mix} {live}{cost}|");
        }
        var pass = CostOf(o.PeerRules, o.PeerPrefixes, false, NoMatch);
        if (pass is not null)
        {
            md.AppendLine();
            md.AppendLine($"`default: pass` at {o.PeerRules:N0} rules, {o.PeerPrefixes:N0} prefixes, no match: TEST_RUN {pass.Median:N1} ns (XDP_PASS; the classifier's work is the same, the stack's is not).");
        }
        return md.ToString();
    }

    /// <summary>The targets, the peer table and the plot: throughput.md's head, and README's Measured section.</summary>
    private string Summary(string h, string png)
    {
        var md = new StringBuilder();
        var targets = Targets().ToList();
        if (targets.Count > 0)
        {
            md.AppendLine($"{h} Targets");
            md.AppendLine();
            md.AppendLine(string.Join("\n", targets));
            md.AppendLine();
        }

        var peers = PeerKeys().Select(k => (k, f: Live(k))).Where(x => x.f is not null).ToList();
        if (peers.Count > 0)
        {
            md.AppendLine($"{h} Peers: {o.PeerRules:N0} rules, {o.PeerPrefixes:N0}-prefix set, packets that match no rule");
            md.AppendLine();
            md.AppendLine("| system | program ns per packet (BPF stats) | spread | added ns (program) | whole path ns per frame | spread | added ns (whole path) | delivered Mpps (wall clock) |");
            md.AppendLine("|---|---:|---|---:|---:|---|---:|---:|");
            foreach (var (k, f) in peers)
            {
                bool bare = k.Sut == Bare;
                md.AppendLine($"| {PeerLabel(k)} | {Plain(f!.Prog.Median)} | {Spread(f.Prog)} | {(bare ? "0" : Ns(f.ProgAdded))} | " +
                    $"{Plain(f.Path.Median)} | {Spread(f.Path)} | {(bare ? "0" : Ns(f.PathAdded))} | {Mpps(f.Rx.Median)} |");
            }
            md.AppendLine();
            if (BareLive is { } b)
                md.AppendLine($"- Bare XDP_DROP: program {Plain(b.Prog.Median)} ns, whole path {Plain(b.Path.Median)} ns per frame, {Mpps(b.Rx.Median)} Mpps delivered: medians of {b.Runs} bare measurements, " +
                    "one beside every fw ruleset and the peers. Every other measurement is paired with the bare one nearest before it in time, and its added ns are the median of the differences, so drift of the machine cancels. " +
                    "Same run, same veth pair, same mix.");
            md.AppendLine("- On veth, attaching any XDP program makes the receive path turn each skb into an xdp_buff (veth's XDP runs on skbs), which nftables' netdev ingress hook, running on the skb itself, does not pay: " +
                "so on the whole path nftables' set form can come out near or below bare XDP_DROP. A NIC runs XDP before any skb exists: the program measure is the one that carries over to a NIC.");
            if (FloorSentence() is { } floor)
                md.AppendLine($"- {floor}");
            foreach (string n in PeerNotes)
                md.AppendLine($"- {n}");
            if (peers.Any(x => x.k.Sut == "fw, default: pass"))
                md.AppendLine("- fw with `default: pass` hands these frames on to the kernel's stack (which drops them as not for this host): its whole-path cost is mostly the stack's; its program figure is fw's.");
            md.AppendLine();
        }

        md.Append(StateSection(h));
        md.Append(LogSection(h));
        md.Append(LiveLimitSection(h));

        md.AppendLine($"![fw throughput and per-packet cost]({png})");
        md.AppendLine();
        return md.ToString();
    }

    // ---- Connection tracking ------------------------------------------------------------------------------

    private Key StateKey(string mix) => new(Stateful, o.PeerRules, o.PeerPrefixes, true, mix);

    private Key StatelessKey => new("fw", o.PeerRules, o.PeerPrefixes, true, NoMatch);

    /// <summary>Whether fw + state was measured in this run.</summary>
    private bool StateMeasured => _live.ContainsKey(StateKey(Established)) || _live.ContainsKey(StateKey(NoMatch)) || Cost.Any(c => c.Case.Stateful);

    private static string EstablishedMixText =>
        $"3 IPv4 to 1 IPv6 TCP ACK frames from {Synthetic.FlowSrc4} and {Synthetic.FlowSrc6} to port {Synthetic.FlowDport}, the source port varied over {1 << Synthetic.FlowPortBits} values: " +
        $"{Synthetic.Flows} fixed flows, the first packet of each put into the flow table by the track rule, every later one established";

    private static string StateRulesText =>
        $"two pass rules on top of the same rules and set, `{Synthetic.EstablishedRule}` (`state: established`) and `{Synthetic.TrackRule}` " +
        $"(`track: true`, `src: [{Synthetic.FlowSrc4}, \"{Synthetic.FlowSrc6}\"]`, `proto: tcp`, `dport: {Synthetic.FlowDport}`: fields the rules below already use, " +
        "so its per-packet lookups differ from fw's only by the state class and the flow table); `conntrack:` defaults";

    /// <summary>
    /// Flatness under real traffic: fw's program ns per packet at 4,096 rules over 10 rules (each set size and mix
    /// measured), and at the largest set over the smallest non-empty one (each rule count and mix); the worst of each.
    /// Null when the live grid lacks the ends.
    /// </summary>
    private string? LiveScale()
    {
        var fwKeys = _live.Keys.Where(k => k.Sut == "fw" && k.DefaultDrop).ToList();
        var byRules = new List<(double Ratio, string What)>();
        var byPrefixes = new List<(double Ratio, string What)>();
        foreach (var g in fwKeys.GroupBy(k => (k.Prefixes, k.Mix)))
        {
            if (g.FirstOrDefault(k => k.Rules == 10) is { Sut: not null } lo && g.FirstOrDefault(k => k.Rules == 4096) is { Sut: not null } hi
                && Live(lo) is { } l && Live(hi) is { } h)
                byRules.Add((h.Prog.Median / l.Prog.Median, $"{g.Key.Mix}, {g.Key.Prefixes:N0} prefixes: {Plain(h.Prog.Median)} / {Plain(l.Prog.Median)} ns"));
        }
        foreach (var g in fwKeys.Where(k => k.Prefixes > 0).GroupBy(k => (k.Rules, k.Mix)))
        {
            var lo = g.MinBy(k => k.Prefixes);
            var hi = g.MaxBy(k => k.Prefixes);
            if (lo.Prefixes != hi.Prefixes && Live(lo) is { } l && Live(hi) is { } h)
                byPrefixes.Add((h.Prog.Median / l.Prog.Median, $"{g.Key.Mix}, {g.Key.Rules:N0} rules, {hi.Prefixes:N0} / {lo.Prefixes:N0} prefixes: {Plain(h.Prog.Median)} / {Plain(l.Prog.Median)} ns"));
        }
        if (byRules.Count == 0 && byPrefixes.Count == 0)
            return null;
        var parts = new List<string>();
        if (byRules.Count > 0)
        {
            var w = byRules.MaxBy(x => x.Ratio);
            parts.Add($"4,096 rules / 10 rules at most **{w.Ratio:N2}x** ({w.What}; goal within 1.5x: **{Verdict(w.Ratio <= 1.5)}**)");
        }
        if (byPrefixes.Count > 0)
        {
            var w = byPrefixes.MaxBy(x => x.Ratio);
            parts.Add($"largest / smallest set at most **{w.Ratio:N2}x** ({w.What}; goal within 1.3x from 1,000 to 1,000,000 prefixes: **{Verdict(w.Ratio <= 1.3)}**)");
        }
        return $"- flat in scale under real traffic (program ns per packet by the kernel's BPF statistics, medians, every mix measured): {string.Join("; ", parts)}.";
    }

    /// <summary>
    /// fw + state's added program ns less fw's, median over rounds: each round's figures are paired with their own
    /// bare measurement, so this is the state rule's and the flow table's cost with the machine's drift taken out.
    /// </summary>
    private double OverStateless(Key k)
    {
        var state = AddedProg(k);
        var fw = AddedProg(StatelessKey);
        return Stats.Median(state.Zip(fw, (a, b) => a - b).ToList());
    }

    /// <summary>Each measurement's program ns less its paired bare one, in run order (NaN without BPF statistics).</summary>
    private List<double> AddedProg(Key k) => _live.TryGetValue(k, out var rs)
        ? rs.Select((r, i) => (r.ProgNs - _pairedBare[k][i].ProgNs) ?? double.NaN).ToList()
        : [];

    /// <summary>The lowest share of received frames the expected rule (or the default) counted, over the rounds.</summary>
    private double ShareMin(Key k) => _tallies.TryGetValue(k, out var ts) && ts.Count > 0 ? ts.Min(t => t.Share) : double.NaN;

    private static string Share(double share) => double.IsNaN(share) ? "—" : (share * 100).ToString(share >= 0.9999 && share < 1 ? "N4" : "N2", Inv) + "%";

    /// <summary>fw + state beside the stateless fw and bare XDP_DROP of the same run; empty when not measured.</summary>
    private string StateSection(string h)
    {
        if (!StateMeasured)
            return "";
        int n = o.PeerRules, p = o.PeerPrefixes;
        var md = new StringBuilder();
        md.AppendLine($"{h} Connection tracking: {n:N0} rules, {p:N0}-prefix set, a `state` rule on top");
        md.AppendLine();
        bool testRun = Cost.Any(c => c.Case.Stateful);
        md.AppendLine("| system | packets | program ns per packet (BPF stats) | spread | added ns over bare (program) | over stateless fw (program) | whole path ns per frame | added ns (whole path) | delivered Mpps | counted as expected (lowest round) |" +
            (testRun ? " TEST_RUN ns | + ns over bare |" : ""));
        md.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---|" + (testRun ? "---:|---:|" : ""));
        var rows = new List<(Key K, string System, string Packets)>
        {
            (BareKey, Bare, "no match"),
            (StatelessKey, "fw (stateless)", "no match"),
            (StateKey(Established), $"{Stateful}", "an established flow's"),
            (StateKey(NoMatch), $"{Stateful}", "no match, no flow"),
        };
        foreach (var (k, system, packets) in rows)
        {
            bool bare = k.Sut == Bare;
            var f = Live(k);
            double cost = bare ? BareCost : CostOf(k.Rules, k.Prefixes, k.DefaultDrop, k.Mix, k.Sut == Stateful)?.Median ?? double.NaN;
            if (f is null && double.IsNaN(cost))
                continue;
            string live = f is null ? "| — | — | — | — | — | — | — | — " :
                $"| {Plain(f.Prog.Median)} | {Spread(f.Prog)} | {(bare ? "0" : Ns(f.ProgAdded))} | {(k.Sut == Stateful ? Ns(OverStateless(k)) : k == StatelessKey ? "0" : "—")} | " +
                $"{Plain(f.Path.Median)} | {(bare ? "0" : Ns(f.PathAdded))} | {Mpps(f.Rx.Median)} | {Counted(k)} ";
            string tr = !testRun ? "" : double.IsNaN(cost) ? "| — | — " : $"| {Plain(cost)} | {(bare ? "0" : Ns(cost - BareCost))} ";
            md.AppendLine($"| {system} | {packets} {live}{tr}|");
        }
        md.AppendLine();
        md.AppendLine($"- fw + state: {StateRulesText}. Established packets: {EstablishedMixText}. No match: the no-match mix, whose packets match no rule and no flow (the flow-table lookup misses), to the default (drop).");
        md.AppendLine("- *over stateless fw*: each round's fw + state added ns less that round's stateless fw added ns, median over the rounds: the cost of the state rule and the flow table alone. " +
            "The flow table is made when fw attaches (every round), so each round's first packet of every flow is new.");
        md.AppendLine("- The established packets are passed (XDP_PASS, the `established` rule's action) and the stack behind the veth drops them (not for this host): their whole-path figure carries the stack's work, as fw with `default: pass` does; " +
            "the program figure is fw's own. No-match packets end in XDP_DROP like every other scenario.");
        md.AppendLine("- *counted as expected*: frames the `established` rule (or the default, for no match) counted over the lowest round, warm-up included, of the frames the interface received; " +
            "the run stops unless it is at least 99.9% and no-match traffic inserts no flow.");
        if (Cost.Any(c => c.Case.Stateful))
            md.AppendLine("- TEST_RUN: the classifier alone with one frame of the mix repeated (warm caches; the established frame's flow is inserted by the first run), as in the grid: what the program costs without the cache misses of real traffic.");
        md.AppendLine();
        return md.ToString();
    }

    // ---- The packet log ------------------------------------------------------------------------------------

    private Key LogKey(bool logged) => logged
        ? new(FwSut.LoggedName, o.PeerRules, o.PeerPrefixes, true, "logged")
        : new(FwSut.LogElsewhereName, o.PeerRules, o.PeerPrefixes, true, NoMatch);

    private static bool IsLog(Key k) => k.Sut is FwSut.LoggedName or FwSut.LogElsewhereName;

    /// <summary>The log's counters summed over the rounds (warm-up included), or null without a log.</summary>
    private LogCounts? LogTotal(Key k)
    {
        var ls = _tallies.TryGetValue(k, out var ts) ? ts.Where(t => t.Log is not null).Select(t => t.Log!.Value).ToList() : [];
        return ls.Count == 0 ? null : new LogCounts((ulong)ls.Sum(l => (double)l.Written), (ulong)ls.Sum(l => (double)l.OverRate), (ulong)ls.Sum(l => (double)l.Full));
    }

    /// <summary>fw + log (logged packet, and unlogged with a logged rule elsewhere) beside stateless fw and bare XDP_DROP; empty when not measured.</summary>
    private string LogSection(string h)
    {
        if (!_live.ContainsKey(LogKey(true)) && !_live.ContainsKey(LogKey(false)))
            return "";
        int n = o.PeerRules, p = o.PeerPrefixes;
        var md = new StringBuilder();
        md.AppendLine($"{h} Packet log: {n:N0} rules, {p:N0}-prefix set, a logged rule on top");
        md.AppendLine();
        md.AppendLine("| system | packets | program ns per packet (BPF stats) | spread | added ns over bare (program) | over stateless fw (program) | whole path ns per frame | added ns (whole path) | delivered Mpps | counted as expected (lowest round) | log records written | refused: over rate | refused: ring full |");
        md.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        var rows = new List<(Key K, string System, string Packets)>
        {
            (BareKey, Bare, "no match"),
            (StatelessKey, "fw (stateless)", "no match"),
            (LogKey(true), FwSut.LoggedName, "logged (match the logged rule)"),
            (LogKey(false), FwSut.LogElsewhereName, "unlogged (no match; a logged rule elsewhere)"),
        };
        foreach (var (k, system, packets) in rows)
        {
            if (Live(k) is not { } f)
                continue;
            bool bare = k.Sut == Bare;
            var lt = LogTotal(k);
            string logCells = lt is { } l ? $"| {l.Written:N0} | {l.OverRate:N0} | {l.Full:N0} " : "| — | — | — ";
            md.AppendLine($"| {system} | {packets} | {Plain(f.Prog.Median)} | {Spread(f.Prog)} | {(bare ? "0" : Ns(f.ProgAdded))} | {(IsLog(k) ? Ns(OverStateless(k)) : k == StatelessKey ? "0" : "—")} | " +
                $"{Plain(f.Path.Median)} | {(bare ? "0" : Ns(f.PathAdded))} | {Mpps(f.Rx.Median)} | {Counted(k)} {logCells}|");
        }
        md.AppendLine();
        md.AppendLine($"- fw + log: the same rules and set with `log: {{rate: {Synthetic.LogRate}}}` and one drop rule `{Synthetic.LogRule}` with `log: true` on top. " +
            $"*logged*: its sources are the no-match mix's ({Synthetic.LogRuleSources(BenchLog.Matching)}), so every frame of that mix matches it and is logged (a record into the fw_log ring buffer within the rate's token bucket), " +
            "with a reader draining the ring on a background thread (Fw.Kernel.PacketLog, as `fwctl log` reads it) so records are really written; " +
            $"*unlogged*: the same ruleset with the logged rule's sources {Synthetic.LogRuleSources(BenchLog.Elsewhere)} (no traffic there): the no-match mix matches no logged rule and ends at the default (drop, not logged), no reader.");
        md.AppendLine("- *over stateless fw*: each round's added ns less that round's stateless fw added ns, median over the rounds. " +
            "*log records written / refused*: fw_stats' log counters (fwctl stats' log records, over rate, ring full) summed over the rounds, warm-up included.");
        md.AppendLine("- The whole path counts the sending threads' CPU time (and ksoftirqd's), not the log reader's: on 2 CPUs the reader competes with the senders, and the ring's wake-ups move work around, " +
            "so the logged row's whole-path figure is not the log's full cost; the program figure is the data plane's.");
        md.AppendLine();
        return md.ToString();
    }

    // ---- Live set + limit (issue 15) ---------------------------------------------------------------------

    private Key LiveLimitKey => LiveKey(FwSut.LiveLimitName);

    private Key LiveKey(string sut) => new(sut, o.PeerRules, o.PeerPrefixes, true, NoMatch);

    private static bool IsLive(Key k) => k.Sut is FwSut.LiveLimitName or FwSut.LiveSetName or FwSut.LimitName;

    /// <summary>The limit checks summed over the rounds (warm-up included), or null without a limit.</summary>
    private LimitChecks? LimitTotal(Key k)
    {
        var ls = _tallies.TryGetValue(k, out var ts) ? ts.Where(t => t.Limits is not null).Select(t => t.Limits!.Value).ToList() : [];
        return ls.Count == 0 ? null : new LimitChecks((ulong)ls.Sum(l => (double)l.Within), (ulong)ls.Sum(l => (double)l.Over));
    }

    private static string LiveLimitRulesText =>
        $"the same rules and set with a live set `{Synthetic.LiveSetName}: {{ dynamic: true, timeout: {Synthetic.LiveSetTimeout}, max: {Synthetic.LiveSetMax} }}` " +
        $"and two drop rules on top: `{Synthetic.LiveSetRule}` (`src: \"@{Synthetic.LiveSetName}\"`) and `{Synthetic.LimitRule}` " +
        $"(`proto: tcp`, `limit: {{ rate: {Synthetic.LimitRate}, per: {Synthetic.LimitPer} }}`); after every attach the bench puts {Synthetic.LiveSetFill:N0} entries without expiry into the live set " +
        "(Fw.Kernel.LiveSetMap.Put, one map update each, as `fwctl set add` writes them): 3 IPv4 /32s in 198.18.32.0/19 to 1 IPv6 /128 in 2001:db8:f000::/40, where no traffic goes";

    /// <summary>fw + live set + limit beside stateless fw and bare XDP_DROP; empty when not measured.</summary>
    private string LiveLimitSection(string h)
    {
        if (Live(LiveLimitKey) is null)
            return "";
        int n = o.PeerRules, p = o.PeerPrefixes;
        var md = new StringBuilder();
        md.AppendLine($"{h} Live set and limit: {n:N0} rules, {p:N0}-prefix set, a live-set rule and a limit rule on top");
        md.AppendLine();
        md.AppendLine("| system | packets | program ns per packet (BPF stats) | spread | added ns over bare (program) | over stateless fw (program) | whole path ns per frame | added ns (whole path) | delivered Mpps | counted as expected (lowest round) | limit checks within the rate | over it |");
        md.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|");
        var rows = new List<(Key K, string System, string Packets)>
        {
            (BareKey, Bare, "no match"),
            (StatelessKey, "fw (stateless)", "no match"),
            (LiveLimitKey, FwSut.LiveLimitName, "no match: live set missed, within the limit"),
            (LiveKey(FwSut.LiveSetName), FwSut.LiveSetName, "no match: live set missed (no limit rule)"),
            (LiveKey(FwSut.LimitName), FwSut.LimitName, "no match: within the limit (no live set rule)"),
        };
        foreach (var (k, system, packets) in rows)
        {
            if (Live(k) is not { } f)
                continue;
            bool bare = k.Sut == Bare;
            var lm = LimitTotal(k);
            string limitCells = lm is { } l ? $"| {l.Within:N0} | {l.Over:N0} " : "| — | — ";
            md.AppendLine($"| {system} | {packets} | {Plain(f.Prog.Median)} | {Spread(f.Prog)} | {(bare ? "0" : Ns(f.ProgAdded))} | {(IsLive(k) ? Ns(OverStateless(k)) : k == StatelessKey ? "0" : "—")} | " +
                $"{Plain(f.Path.Median)} | {(bare ? "0" : Ns(f.PathAdded))} | {Mpps(f.Rx.Median)} | {Counted(k)} {limitCells}|");
        }
        md.AppendLine();
        md.AppendLine($"- fw + live set + limit: {LiveLimitRulesText}.");
        md.AppendLine($"- What each no-match packet (TCP) does: one live-set lookup that misses (the `{Synthetic.LiveSetName}` LPM trie, keyed by family, so an IPv4 source meets only IPv4 entries); " +
            $"the match (fw_match: the class lookups and the set's Poptrie) finds `{Synthetic.LimitRule}` (any TCP); one limit check within the rate (GCRA: a hash lookup of the `{Synthetic.LimitRule}` rule's bucket " +
            "for the source's /24, /56 for IPv6, and a compare-and-swap moving it on), so the rule does not match and is passed over: the same pass of fw_match goes on to the next rule " +
            "of the ANDed words (no lookup made again), and finds none: the default (drop) decides. So over stateless fw it adds the live-set miss and the limit check. " +
            $"The buckets: the IPv4 sources vary over 128 /24s, the IPv6 ones share one /56, and both sending CPUs write the same buckets (the compare-and-swap's cache line moves between CPUs).");
        if (Live(LiveKey(FwSut.LiveSetName)) is not null || Live(LiveKey(FwSut.LimitName)) is not null)
            md.AppendLine($"- *{FwSut.LiveSetName}*: only `{Synthetic.LiveSetRule}` on top (filled alike): the live-set miss alone. *{FwSut.LimitName}*: only `{Synthetic.LimitRule}` on top: the limit check alone. " +
                "Their costs over stateless fw need not add up to both's: the rules' classes differ, and the machine's drift between rows is not paired away.");
        md.AppendLine($"- *over stateless fw*: each round's added ns less that round's stateless fw added ns, median over the rounds ({Ns(OverStateless(LiveLimitKey))} here for both rules: the live-set miss and the limit check). " +
            "*limit checks*: fw_stats' LIMIT_UNDER and LIMIT_OVER summed over the rounds, warm-up included; the run stops unless every frame received was one check within the rate and none was over, " +
            "and unless the default counted every frame received.");
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>The lowest round's share, with the flows inserted (fw + state).</summary>
    private string Counted(Key k)
    {
        double share = ShareMin(k);
        if (double.IsNaN(share))
            return "—";
        string what = k.Sut == Stateful && k.Mix == Established ? $"by `{Synthetic.EstablishedRule}`" : k.Sut == FwSut.LoggedName ? $"by `{Synthetic.LogRule}`" : k.Mix == NoMatch && k.Sut.StartsWith("fw") ? "by the default" : "";
        var inserted = _tallies[k].Where(t => t.Inserted is not null).Select(t => t.Inserted!.Value).ToList();
        string range = inserted.Count == 0 ? "" : inserted.Min() == inserted.Max() ? $"{inserted.Max():N0}" : $"{inserted.Min():N0}-{inserted.Max():N0}";
        string flows = inserted.Count == 0 ? "" : inserted.Max() == 0 ? "; no flow inserted" : $"; {range} flows inserted a round by `{Synthetic.TrackRule}`";
        return $"{Share(share)} {what}{flows}".Replace("  ", " ");
    }

    /// <summary>README's part: the machine in one line, the targets, the peers, the plot, the no-match grid, a link to the rest.</summary>
    private string ReadmeSummary()
    {
        var md = new StringBuilder();
        md.AppendLine($"`{RunCommand}` ({DateTime.UtcNow:yyyy-MM-dd}): kernel {Fact("kernel")}, {Environment.ProcessorCount} CPUs ({Fact("CPU").Split(',')[0]}), native XDP on one veth pair, " +
            $"frames sent by {o.Threads} AF_PACKET TX-ring thread(s) (src/Fw.Traffic) into the other end; the program measure is the kernel's BPF statistics; medians of {o.Runs} rounds. " +
            $"Full tables{(Cost.Count > 0 ? ", the TEST_RUN grid" : "")} and how it was measured: [bench/results/throughput.md](bench/results/throughput.md) (CSV beside it).");
        md.AppendLine();
        md.Append(Summary("###", "bench/results/throughput.png"));
        if (FwGrid)
        {
            LiveFigure? At(int rules, int prefixes) => Live(new Key("fw", rules, prefixes, true, NoMatch));
            var prefixes = o.Prefixes.Where(p => o.Rules.Any(n => At(n, p) is not null)).ToList();
            var rules = o.Rules.Where(n => prefixes.Any(p => At(n, p) is not null)).ToList();
            md.AppendLine("### fw, packets that match no rule: program ns per packet (+added program ns; whole path +added path ns)");
            md.AppendLine();
            md.AppendLine("| rules | " + string.Join(" | ", prefixes.Select(p => $"{p:N0} prefixes")) + " |");
            md.AppendLine("|---:|" + string.Concat(prefixes.Select(_ => "---:|")));
            foreach (int n in rules)
            {
                var cells = prefixes.Select(p => At(n, p) is { } f ? $"{Plain(f.Prog.Median)} ({Ns(f.ProgAdded)}; whole path {Ns(f.PathAdded)})" : "");
                md.AppendLine($"| {n:N0} | {string.Join(" | ", cells)} |");
            }
            md.AppendLine();
        }
        return md.ToString();
    }

    private static int MixOrder(string mix) => mix switch { "first" => 0, "last" => 1, Established => 2, _ => 3 };

    private IEnumerable<Key> PeerKeys()
    {
        int n = o.PeerRules, p = o.PeerPrefixes;
        yield return BareKey;
        yield return FloorKey;
        for (int k = 1; k < FloorSut.AllSteps; k++)
            yield return new Key(FloorSut.StepName(k), 0, 0, true, NoMatch);
        yield return new Key("fw", n, p, true, NoMatch);
        foreach (var build in o.FwObjects)
            yield return new Key($"fw ({build.Label})", n, p, true, NoMatch);
        foreach (string rival in Rivals)
            yield return new Key(rival, n, p, true, NoMatch);
        yield return new Key("fw, default: pass", n, p, false, NoMatch);
    }

    /// <summary>
    /// The floor's row in words, with fw's added ns as a multiple of the floor's (the peers' fw, no match); null when
    /// the floor was not measured.
    /// </summary>
    private string? FloorSentence()
    {
        if (Live(FloorKey) is not { } fl)
            return null;
        var fw = Live(new Key("fw", o.PeerRules, o.PeerPrefixes, true, NoMatch));
        string times = fw is null || double.IsNaN(fw.ProgAdded) || double.IsNaN(fl.ProgAdded) ? ""
            : fl.ProgAdded > 0 ? $"; fw's {Ns(fw.ProgAdded)} is **{fw.ProgAdded / fl.ProgAdded:N1}x** the floor's added ns" : "; the floor added no measurable ns, so no multiple of it";
        return $"Floor (bench/bpf/floor.bpf.c: parse Ethernet, IPv4 or IPv6 and the TCP or UDP ports, one lookup in an array of 65,536 verdicts by destination port, one per-CPU counter; XDP_DROP): " +
            $"program {Plain(fl.Prog.Median)} ns, {Ns(fl.ProgAdded)} over bare XDP_DROP (median of paired differences, like every row){times}. " +
            "The least any classifier adds here; fw's added cost above it is its own work." + FloorSteps();
    }

    /// <summary>" Its steps alone (floor_steps): ..." with each step's added ns, or "" when they were not measured.</summary>
    private string FloorSteps()
    {
        var steps = Enumerable.Range(1, FloorSut.AllSteps - 1)
            .Select(k => (k, f: Live(new Key(FloorSut.StepName(k), 0, 0, true, NoMatch))))
            .Where(x => x.f is not null)
            .Select(x => $"{FloorSut.StepName(x.k)["floor, ".Length..]} {Ns(x.f!.ProgAdded)}")
            .ToList();
        return steps.Count == 0 ? "" : $" Its steps alone (floor_steps, the same program cut short), over bare: {string.Join("; ", steps)}.";
    }

    /// <summary>"; N.Nx the floor's +F ns" for fw's added ns, or "" when the floor was not measured.</summary>
    private string FloorMultiple(LiveFigure fw) =>
        Live(FloorKey) is { } fl && fl.ProgAdded > 0 && !double.IsNaN(fw.ProgAdded) ? $"; {fw.ProgAdded / fl.ProgAdded:N1}x the floor's {Ns(fl.ProgAdded)}" : "";

    private static string PeerLabel(Key k) => k.Sut switch
    {
        "fw" => "fw (`default: drop`)",
        "fw, default: pass" => "fw, `default: pass` (frames go on to the stack)",
        _ => k.Sut,
    };

    private static string Verdict(bool met) => met ? "met" : "missed";

    private IEnumerable<string> Targets()
    {
        int n = o.PeerRules, p = o.PeerPrefixes;
        var fwKey = new Key("fw", n, p, true, NoMatch);
        var fw = Live(fwKey);
        if (fw is not null)
        {
            // (a) fw's own added cost, by the kernel's BPF statistics.
            var bare = BareLive;
            yield return double.IsNaN(fw.ProgAdded)
                ? $"- {n:N0} rules, {p:N0}-prefix set, no match: fw adds at most +30 ns per packet over bare XDP_DROP by the BPF-statistics measure: **not measured** (no BPF statistics)."
                : $"- {n:N0} rules, {p:N0}-prefix set, no match: fw adds **{Ns(fw.ProgAdded)}** per packet over bare XDP_DROP by the kernel's BPF statistics " +
                  $"(program {Plain(fw.Prog.Median)} ns, bare {Plain(bare?.Prog.Median ?? double.NaN)} ns; median of paired differences{FloorMultiple(fw)}); goal at most +30 ns: **{Verdict(fw.ProgAdded <= 30)}**.";
            var noSet = Live(new Key("fw", n, 0, true, NoMatch));
            if (p != 0 && noSet is not null && !double.IsNaN(fw.ProgAdded) && !double.IsNaN(noSet.ProgAdded))
                yield return $"  - Of fw's {Ns(fw.ProgAdded)}, {Ns(noSet.ProgAdded)} are there without a set ({n:N0} rules, no prefixes: no address lookup, the protocol and port lookups end it); " +
                    $"the other {Ns(fw.ProgAdded - noSet.ProgAdded)} are the source lookup in the set's Poptrie (the set's rule needs it).";

            // (b) against xdp-filter by the same measure.
            var xf = Live(new Key("xdp-filter", n, p, true, NoMatch));
            if (xf is null || double.IsNaN(xf.ProgAdded) || double.IsNaN(fw.ProgAdded))
                yield return "- at most a third of xdp-filter's added cost (program measure) in the same run: **not measured**.";
            else
                yield return $"- at most a third of xdp-filter's added cost (program measure) in the same run: fw {Ns(fw.ProgAdded)}, xdp-filter {Ns(xf.ProgAdded)} " +
                    $"(a third: {Ns(xf.ProgAdded / 3)}{(xf.ProgAdded > 0 ? $"; fw's is {Pct(fw.ProgAdded / xf.ProgAdded)} of it" : "")}): **{Verdict(fw.ProgAdded <= xf.ProgAdded / 3)}**.";

            // (c) the whole path: ahead of every peer, run by run.
            yield return WholePathTarget(fwKey, fw);
        }
        if (Live(StateKey(Established)) is { } est)
        {
            // (d) connection tracking: a packet of an established flow, by the kernel's BPF statistics.
            var none = Live(StateKey(NoMatch));
            string beside = $"stateless fw beside it {Ns(fw?.ProgAdded ?? double.NaN)}, so the state rule and the flow-table hit add {Ns(OverStateless(StateKey(Established)))}" +
                (none is null ? "" : $"; a no-match packet with the state rule {Ns(none.ProgAdded)} ({Ns(OverStateless(StateKey(NoMatch)))} over stateless: the lookup that misses)");
            yield return double.IsNaN(est.ProgAdded)
                ? $"- a packet of an established flow, a `state` rule on top of {n:N0} rules + {p:N0}-prefix set: at most +40 ns over bare XDP_DROP: **not measured** (no BPF statistics)."
                : $"- a packet of an established flow, a `state` rule on top of {n:N0} rules + {p:N0}-prefix set: fw + state adds **{Ns(est.ProgAdded)}** per packet over bare XDP_DROP by the kernel's BPF statistics " +
                  $"(program {Plain(est.Prog.Median)} ns; {beside}); goal at most +40 ns: **{Verdict(est.ProgAdded <= 40)}**.";
        }
        if (Live(LiveLimitKey) is { } ll)
        {
            // (e) a live set and a limit: a packet checked against both, by the kernel's BPF statistics.
            yield return double.IsNaN(ll.ProgAdded)
                ? $"- a packet checked against a live set and a limit, on top of {n:N0} rules + {p:N0}-prefix set: at most +50 ns over bare XDP_DROP: **not measured** (no BPF statistics)."
                : $"- a packet checked against a live set and a limit (a live-set miss, a limit it is within), on top of {n:N0} rules + {p:N0}-prefix set: fw + live set + limit adds **{Ns(ll.ProgAdded)}** per packet over bare XDP_DROP " +
                  $"(program {Plain(ll.Prog.Median)} ns; {Ns(OverStateless(LiveLimitKey))} over stateless fw beside it); goal at most +50 ns: **{Verdict(ll.ProgAdded <= 50)}**.";
        }
        if (LiveScale() is { } scale)
            yield return scale;
        if (Cost.Count > 0)
        {
            var worstRules = new List<(double Ratio, string What)>();
            var worstPrefixes = new List<(double Ratio, string What)>();
            foreach (var mix in Cost.Select(c => c.Mix.Name).Distinct())
            {
                foreach (int prefixes in Cost.Select(c => c.Case.Prefixes).Distinct())
                {
                    var lo = CostOf(10, prefixes, true, mix);
                    var hi = CostOf(4096, prefixes, true, mix);
                    if (lo is not null && hi is not null)
                        worstRules.Add((RunRatio(hi, lo), $"{mix}, {prefixes:N0} prefixes: {hi.Median:N1} / {lo.Median:N1} ns"));
                }
                foreach (int rules in Cost.Select(c => c.Case.Rules).Distinct())
                {
                    var lo = CostOf(rules, 1000, true, mix);
                    var hi = CostOf(rules, 1_000_000, true, mix);
                    if (lo is not null && hi is not null)
                        worstPrefixes.Add((RunRatio(hi, lo), $"{mix}, {rules:N0} rules: {hi.Median:N1} / {lo.Median:N1} ns"));
                }
            }
            if (worstRules.Count > 0)
            {
                var w = worstRules.MaxBy(x => x.Ratio);
                var nm = worstRules.Where(x => x.What.StartsWith("no match")).Select(x => x.Ratio).DefaultIfEmpty(double.NaN).Max();
                yield return $"- TEST_RUN ns per packet at 4,096 rules / at 10 rules (median of per-run ratios): no match at most **{nm:N2}x**, worst of all mixes and set sizes **{w.Ratio:N2}x** ({w.What}); goal within 1.5x: **{(w.Ratio <= 1.5 ? "met" : nm <= 1.5 ? "met for no match, missed for " + w.What.Split(',')[0] : "missed")}**.";
            }
            if (worstPrefixes.Count > 0)
            {
                var w = worstPrefixes.MaxBy(x => x.Ratio);
                var nm = worstPrefixes.Where(x => x.What.StartsWith("no match")).Select(x => x.Ratio).DefaultIfEmpty(double.NaN).Max();
                yield return $"- TEST_RUN ns per packet at 1,000,000 prefixes / at 1,000 prefixes (median of per-run ratios): no match at most **{nm:N2}x**, worst **{w.Ratio:N2}x** ({w.What}); goal within 1.3x: **{(w.Ratio <= 1.3 ? "met" : nm <= 1.3 ? "met for no match, missed for " + w.What.Split(',')[0] : "missed")}**.";
            }
        }
    }

    /// <summary>
    /// fw's added whole-path ns below xdp-filter's and both nftables forms', and fw ahead in most runs: fw's k-th
    /// measurement against the peer's k-th (the same run), lower path ns wins.
    /// </summary>
    private string WholePathTarget(Key fwKey, LiveFigure fw)
    {
        const string goal = "- whole path (sender CPU time per frame, the receive softirq included): fw ahead of xdp-filter and of both nftables forms (lower added ns)";
        var fwPath = PathNs(fwKey);
        var measured = Rivals.Select(s => (s, k: fwKey with { Sut = s })).Select(x => (x.s, f: Live(x.k), theirs: PathNs(x.k))).Where(x => x.f is not null).ToList();
        if (measured.Count == 0)
            return $"{goal}: **not measured**.";
        var verdicts = measured.Select(x => (x.s, f: x.f!, wins: fwPath.Zip(x.theirs, (a, b) => a < b ? 1 : 0).Sum(), runs: Math.Min(fwPath.Count, x.theirs.Count))).ToList();
        bool ahead = verdicts.All(v => fw.PathAdded < v.f.PathAdded && v.wins * 2 > v.runs);
        var missing = Rivals.Except(measured.Select(x => x.s)).ToList();
        string verdict = !ahead ? "missed" : missing.Count == 0 ? "met" : $"met against those measured (not measured: {string.Join(", ", missing)})";
        return $"{goal}: fw {Ns(fw.PathAdded)} over bare; " +
            string.Join(", ", verdicts.Select(v => $"{v.s} {Ns(v.f.PathAdded)} (fw ahead in {v.wins} of {v.runs} runs)")) + $": **{verdict}**.";
    }

    /// <summary>Each measurement's whole-path ns, in run order.</summary>
    private List<double> PathNs(Key k) => _live.TryGetValue(k, out var rs) ? rs.Select(r => r.PathNs).ToList() : [];

    /// <summary>The median over runs of hi / lo measured in the same run (the cost grid visits every case once per run).</summary>
    private static double RunRatio(CostResult hi, CostResult lo) =>
        Stats.Median(hi.Ns.Zip(lo.Ns, (h, l) => h / l).ToList());

    // ---- CSV ------------------------------------------------------------------------------------------

    private const string CsvHeader =
        "system,rules,prefixes,default,mix,runs," +
        "prog_ns,prog_ns_min,prog_ns_max,prog_added_ns," +
        "path_ns,path_ns_min,path_ns_max,path_added_ns," +
        "delivered_mpps,delivered_mpps_min,delivered_mpps_max," +
        "testrun_ns,testrun_ns_min,testrun_ns_max,testrun_added_ns," +
        "counted_share_min,ct_inserts_max,over_stateless_prog_ns,log_written,log_over_rate,log_ring_full,limit_within,limit_over";

    /// <summary>A CSV number: invariant, empty when not measured.</summary>
    private static string F(double x) => double.IsNaN(x) ? "" : x.ToString("0.####", Inv);

    private static IEnumerable<string> LiveCells(LiveFigure? f) => f is null
        ? Enumerable.Repeat("", 11)
        : [F(f.Prog.Median), F(f.Prog.Min), F(f.Prog.Max), F(f.ProgAdded),
           F(f.Path.Median), F(f.Path.Min), F(f.Path.Max), F(f.PathAdded),
           F(f.Rx.Median / 1e6), F(f.Rx.Min / 1e6), F(f.Rx.Max / 1e6)];

    private IEnumerable<string> CostCells(CostResult? c) => c is null
        ? Enumerable.Repeat("", 4)
        : [F(c.Median), F(c.Ns.Min()), F(c.Ns.Max()), F(c.Median - BareCost)];

    /// <summary>The lowest counted share, the most flows inserted in a round, and fw + state's cost over stateless fw.</summary>
    private IEnumerable<string> CountCells(Key k)
    {
        var ts = _tallies.TryGetValue(k, out var list) ? list : [];
        var inserted = ts.Where(t => t.Inserted is not null).Select(t => (double)t.Inserted!.Value).ToList();
        var lt = LogTotal(k);
        var lm = LimitTotal(k);
        return [F(ShareMin(k)), inserted.Count == 0 ? "" : F(inserted.Max()), k.Sut == Stateful || IsLog(k) || IsLive(k) ? F(OverStateless(k)) : "",
            lt is { } l ? l.Written.ToString(Inv) : "", lt is { } l2 ? l2.OverRate.ToString(Inv) : "", lt is { } l3 ? l3.Full.ToString(Inv) : "",
            lm is { } m ? m.Within.ToString(Inv) : "", lm is { } m2 ? m2.Over.ToString(Inv) : ""];
    }

    private string Csv()
    {
        var sb = new StringBuilder(CsvHeader).Append('\n');
        var keys = _order.ToList();
        foreach (var c in Cost)
        {
            var k = new Key(c.Case.Stateful ? Stateful : c.Case.DefaultDrop ? "fw" : "fw, default: pass", c.Case.Rules, c.Case.Prefixes, c.Case.DefaultDrop, c.Mix.Name);
            if (!keys.Contains(k))
                keys.Add(k);
        }
        foreach (var k in keys.OrderBy(k => k.Sut != Bare).ThenBy(k => k.Sut).ThenBy(k => k.Prefixes).ThenBy(k => k.Rules).ThenBy(k => MixOrder(k.Mix)))
        {
            var f = Live(k);
            var c = k.Sut is "fw" or "fw, default: pass" or Stateful ? CostOf(k.Rules, k.Prefixes, k.DefaultDrop, k.Mix, k.Sut == Stateful) : null;
            string[] head = [$"\"{k.Sut}\"", $"{k.Rules}", $"{k.Prefixes}", k.DefaultDrop ? "drop" : "pass", $"\"{k.Mix}\"", $"{f?.Runs ?? c?.Ns.Count ?? 0}"];
            sb.Append(string.Join(',', head.Concat(LiveCells(f)).Concat(CostCells(c)).Concat(CountCells(k)))).Append('\n');
        }
        if (CostBare.Count > 0)
        {
            string[] head = [$"\"{Bare} (TEST_RUN)\"", "0", "0", "drop", $"\"{NoMatch}\"", $"{CostBare.Count}"];
            string[] cost = [F(BareCost), F(CostBare.Min()), F(CostBare.Max()), "0"];
            sb.Append(string.Join(',', head.Concat(LiveCells(null)).Concat(cost).Concat(["", "", "", "", "", "", "", ""]))).Append('\n');
        }
        return sb.ToString();
    }

    // ---- Plot -----------------------------------------------------------------------------------------

    /// <summary>
    /// Four panels: real traffic's program ns (BPF statistics) and TEST_RUN ns, each against rule count (a line per
    /// set size) and against set size (a line per rule count); "not measured" where a part was left out.
    /// </summary>
    private void Plot(string png)
    {
        string tmp = Directory.CreateTempSubdirectory("fw-plot-").FullName;
        try
        {
            var gp = new StringBuilder();
            gp.AppendLine($"set terminal pngcairo size 1400,1000 font ',10'");
            gp.AppendLine($"set output '{png}'");
            gp.AppendLine("set datafile separator ';'");
            gp.AppendLine($"set multiplot layout 2,2 title 'fw, {o.PeerRules:N0}-rule peers aside: kernel {Fact("kernel")}, {Environment.ProcessorCount} CPUs, native XDP, " +
                $"AF\\_PACKET TX ring into veth ({o.Threads} thread(s)); medians of {o.Runs} runs; solid: no match, dashed: last rule'");
            gp.AppendLine("set grid; set key top right; set xtics nomirror");
            var ruleCounts = o.Rules;
            bool fwGrid = FwGrid;

            // Series files: x index, x label, value (one file per line of a panel).
            string Series(string name, IEnumerable<(string Label, double Value)> points)
            {
                string path = Path.Combine(tmp, name + ".csv");
                File.WriteAllLines(path, points.Select((p, i) => $"{i};{p.Label};{(double.IsNaN(p.Value) ? "NaN" : p.Value.ToString("0.####", Inv))}"));
                return path;
            }

            string Label(int n) => n >= 1_000_000 ? $"{n / 1_000_000}M" : n >= 10_000 ? $"{n / 1000}k" : $"{n:N0}";
            double ProgNs(int rules, int prefixes, string mix) =>
                fwGrid ? Live(new Key("fw", rules, prefixes, true, mix))?.Prog.Median ?? double.NaN : double.NaN;
            double CostNs(int rules, int prefixes, string mix) => CostOf(rules, prefixes, true, mix)?.Median ?? double.NaN;

            void Panel(string title, string ylabel, string xlabel, int[] xs, int[] lines, Func<int, int, string, double> value, bool xIsRules, double baseline, string baselineLabel)
            {
                gp.AppendLine($"set title '{title}'; set ylabel '{ylabel}'; set xlabel '{xlabel}'; set yrange [0:*]");
                var plots = new List<string>();
                int color = 1;
                foreach (int line in lines)
                {
                    foreach (var (mix, dash) in new[] { (NoMatch, 1), ("last", 2) })
                    {
                        var pts = xs.Select(x => (Label(x), xIsRules ? value(x, line, mix) : value(line, x, mix))).ToList();
                        if (pts.All(p => double.IsNaN(p.Item2)))
                            continue;
                        string f = Series($"{title.GetHashCode():x}-{line}-{dash}", pts);
                        string name = mix == NoMatch ? (xIsRules ? $"{Label(line)} prefixes" : $"{Label(line)} rules") : "";
                        plots.Add($"'{f}' using 1:3:xtic(2) with linespoints lc {color} dt {dash} pt 7 title '{name}'");
                    }
                    color++;
                }
                if (plots.Count > 0 && !double.IsNaN(baseline))
                    plots.Add($"{baseline.ToString("0.####", Inv)} with lines lc rgb 'black' dt 3 title '{baselineLabel}'");
                gp.AppendLine(plots.Count > 0 ? "plot " + string.Join(", \\\n  ", plots) : "set xrange [0:1]; set yrange [0:1]; set label 1 'not measured' at graph 0.4,0.5; plot 2 notitle; unset label 1; set xrange [*:*]");
            }

            double bareProg = BareLive?.Prog.Median ?? double.NaN;
            Panel("Real traffic: program ns per packet (BPF stats) against rule count", "ns per packet", "rules", ruleCounts, o.Prefixes, ProgNs, true, bareProg, "bare XDP\\_DROP");
            Panel("Real traffic: program ns per packet (BPF stats) against set size", "ns per packet", "prefixes in the set", o.Prefixes, ruleCounts, ProgNs, false, bareProg, "bare XDP\\_DROP");
            var costPrefixes = Cost.Select(c => c.Case.Prefixes).Distinct().Order().ToArray();
            Panel("BPF\\_PROG\\_TEST\\_RUN: ns per packet against rule count", "ns per packet", "rules", ruleCounts, costPrefixes, CostNs, true, BareCost, "bare XDP\\_DROP");
            Panel("BPF\\_PROG\\_TEST\\_RUN: ns per packet against set size", "ns per packet", "prefixes in the set", costPrefixes, ruleCounts, CostNs, false, BareCost, "bare XDP\\_DROP");
            gp.AppendLine("unset multiplot");
            string script = Path.Combine(tmp, "throughput.gp");
            File.WriteAllText(script, gp.ToString());
            var r = Command.Run("gnuplot", [script], null, TimeSpan.FromMinutes(1));
            if (!r.Ok)
                throw new InvalidOperationException($"gnuplot: {r.Stderr.Trim()}");
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }
}
