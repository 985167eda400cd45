using Fw.Bpf;
using System.Diagnostics;
using Fw.Bench;
using Fw.Bench.Throughput;
using Fw.Kernel;

// fw under real traffic (frames from an AF_PACKET TX ring into a veth pair, src/Fw.Traffic) over the
// rule-count x set-size grid and three packet mixes, beside a bare XDP_DROP program (the baseline), the floor
// (bench/bpf/floor.bpf.c: parse, one array lookup by port, one per-CPU counter: the least a classifier adds), xdp-filter and
// nftables (plain chain and sets) in the same run on the same veth pair, timed by the kernel's BPF statistics
// and by the sender's CPU time per frame; fw + state (the peers' ruleset with a `state: established` rule and a
// track rule on top: packets of established flows, and packets of no rule and no flow); plus the
// BPF_PROG_TEST_RUN cost grid. Writes throughput.md, throughput.csv and throughput.png. Usage: see Options.Usage.

var o = Options.Parse(args);
if (o is null)
    return args.Contains("-h") || args.Contains("--help") ? 0 : 2;
if (o.WriteRules is not null)
{
    Directory.CreateDirectory(o.WriteRules);
    foreach (int p in o.Prefixes.Union(o.CostPrefixes).Order())
    {
        foreach (int n in o.Rules)
            Synthetic.Write(o.WriteRules, n, p);
    }
    var peer = RulesetCase.Build(o.WriteRules, o.PeerRules, o.PeerPrefixes);
    File.WriteAllText(Path.Combine(o.WriteRules, "peer.nft"), NftRuleset.Translate(peer.Check.Ruleset!, "DEVICE").Script(NftForm.Best));
    File.WriteAllText(Path.Combine(o.WriteRules, "peer-plain.nft"), NftRuleset.Translate(peer.Check.Ruleset!, "DEVICE").Script(NftForm.Plain));
    File.WriteAllLines(Path.Combine(o.WriteRules, "peer.xdp-filter"), XdpFilterConfig.Translate(peer.Check.Ruleset!).Commands("DEVICE").Select(c => string.Join(' ', c)));
    Console.WriteLine($"wrote the rulesets to {o.WriteRules}");
    return 0;
}
Firewall.RequireRoot();
var log = Console.Error;
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;   // finish the current measurement, then clean up below
    cancel.Cancel();
    log.WriteLine("bench: interrupted; cleaning up");
};

var total = Stopwatch.StartNew();
string dir = Directory.CreateTempSubdirectory("fw-bench-").FullName;
BenchNet? net = null;
AppDomain.CurrentDomain.ProcessExit += (_, _) => net?.Dispose();   // SIGTERM
try
{
    // Rulesets: the cost grid is a superset of the live grid (1,000 prefixes: the flatness target's base).
    var cases = new Dictionary<(int, int), RulesetCase>();
    foreach (int p in o.CostPrefixes.Union(o.Prefixes).Union([o.PeerPrefixes]).Order())
    {
        foreach (int n in o.Rules.Union([o.PeerRules]).Order())
        {
            if (!o.Prefixes.Contains(p) && !o.CostPrefixes.Contains(p) && (n, p) != (o.PeerRules, o.PeerPrefixes))
                continue;
            var c = RulesetCase.Build(dir, n, p);
            cases[(n, p)] = c;
            log.WriteLine($"compiled {c.Label}: {c.CompileMs:N0} ms, {c.Check.Image!.ClassCount:N0} classes, {c.Check.Image.PrefixEntries:N0} trie entries");
        }
    }
    var peerCase = cases[(o.PeerRules, o.PeerPrefixes)];
    var passCase = o.Quick ? null : RulesetCase.Build(dir, o.PeerRules, o.PeerPrefixes, defaultDrop: false, mixes: [Synthetic.NoMatch()]);
    RulesetCase? stateCase = null;
    if (o.State && (o.Live || o.Cost))
    {
        stateCase = RulesetCase.Build(dir, o.PeerRules, o.PeerPrefixes, stateful: true);
        log.WriteLine($"compiled {stateCase.Label}: {stateCase.CompileMs:N0} ms, {stateCase.Check.Image!.ClassCount:N0} classes, {stateCase.Check.Image.PrefixEntries:N0} trie entries");
    }
    // The packet log's cost: a logged rule on top that the traffic matches, and one it does not (log elsewhere).
    var topCases = o.Log && o.Live
        ? new[] { BenchLog.Matching, BenchLog.Elsewhere }.Select(l => RulesetCase.Build(dir, o.PeerRules, o.PeerPrefixes, log: l)).ToList()
        : [];
    // Issue 15's per-packet cost: a live set the traffic misses and a limit it stays within, on top; and each alone.
    if (o.LiveSet && o.Live)
        topCases.AddRange(new[] { BenchLive.SetAndLimit, BenchLive.Set, BenchLive.Limit }.Select(l => RulesetCase.Build(dir, o.PeerRules, o.PeerPrefixes, live: l)));
    foreach (var lc in topCases)
        log.WriteLine($"compiled {lc.Label}: {lc.CompileMs:N0} ms, {lc.Check.Image!.ClassCount:N0} classes, {lc.Check.Image.PrefixEntries:N0} trie entries");
    var results = new Results(o, Machine.Describe(o));

    if (o.Cost)
    {
        var costCases = cases.Values.Where(c => o.CostPrefixes.Contains(c.Prefixes) && o.Rules.Contains(c.Rules)).Append(passCase!).ToList();
        if (stateCase is not null)
            costCases.Add(stateCase);   // its flow table is the classifier's own: the first run inserts, every later packet is established
        var (bare, cost) = CostGrid.Run(costCases, o.Repeat, o.Runs, log);
        results.CostBare.AddRange(bare);
        results.Cost.AddRange(cost);
        log.WriteLine($"cost grid done ({total.Elapsed.TotalSeconds:N0} s)");
    }

    if (o.Live)
    {
        net = new BenchNet(o.Threads);
        log.WriteLine($"bench net {net.Id}: {net.GenIf} -> {net.SutIf}, {o.Threads} queue(s), generator on {o.Threads} CPU(s)");
        var gen = new Generator(net, o.Threads);
        using var stats = ProgramStats.Enable();
        using var bare = new BareSut(net);
        var steps = new List<(Sut Sut, RulesetCase? Case, IReadOnlyList<Mix> Mixes)>();
        var noMatch = Synthetic.NoMatch();
        foreach (int p in o.Prefixes)
        {
            foreach (int n in o.Rules)
            {
                steps.Add((bare, null, [noMatch]));
                steps.Add((new FwSut(net, cases[(n, p)]), cases[(n, p)], cases[(n, p)].Mixes.Where(m => o.Mixes.Contains(m.Name)).ToList()));
            }
        }
        if (stateCase is not null && o.Live)
        {
            // The connection-tracking cost, beside the stateless fw of the same rules and set (the grid's).
            steps.Add((bare, null, [noMatch]));
            steps.Add((new FwSut(net, stateCase), stateCase, stateCase.Mixes));
        }
        foreach (var lc in topCases)
        {
            // The packet log's (and the live set + limit's) cost, beside the stateless fw of the same rules and set, each after a bare measurement.
            steps.Add((bare, null, [noMatch]));
            steps.Add((new FwSut(net, lc), lc, lc.Mixes));
            // An A/B build (--fw-object) beside each live set and limit row: their cost is the classifier's own.
            foreach (var build in lc.Live != BenchLive.None ? o.FwObjects : [])
            {
                steps.Add((bare, null, [noMatch]));
                steps.Add((new FwSut(net, lc, build), lc, lc.Mixes));
            }
        }
        if (o.Peers)
        {
            var rs = peerCase.Check.Ruleset!;
            var xdpFilter = XdpFilterConfig.Translate(rs);
            results.PeerNotes.Add($"xdp-filter: {xdpFilter.Describe()}");
            NftTable? nft = null;
            if (!o.Quick)
            {
                nft = new NftTable(net, NftRuleset.Translate(rs, net.SutIf));
                var sw = Stopwatch.StartNew();
                nft.Load();
                log.WriteLine($"nft table loaded ({sw.Elapsed.TotalSeconds:N1} s): plain {nft.Ruleset.RuleCount(NftForm.Plain):N0} rules; best: {nft.Ruleset.BestSummary}");
                results.PeerNotes.Add($"nftables plain chain: {nft.Ruleset.RuleCount(NftForm.Plain):N0} rules in the base chain (one per fw rule and family, the set as named interval sets)");
                results.PeerNotes.Add($"nftables best form: a verdict map on the family, then {nft.Ruleset.BestSummary}");
            }
            steps.Add((bare, null, [noMatch]));
            if (o.Floor)
            {
                // The floor: what any classifier adds (parse, one array lookup, one per-CPU counter), paired with the bare before it.
                steps.Add((new FloorSut(net), null, [noMatch]));
                steps.Add((bare, null, [noMatch]));
                // and its steps alone: where under real traffic the floor's nanoseconds go
                for (int k = 1; k < FloorSut.AllSteps; k++)
                {
                    steps.Add((new FloorSut(net, k), null, [noMatch]));
                    steps.Add((bare, null, [noMatch]));
                }
            }
            foreach (var build in o.FwObjects)
            {
                results.PeerNotes.Add($"fw ({build.Label}): the same fw with the classifier object {build.ObjectPath}");
                steps.Add((new FwSut(net, peerCase, build), peerCase, [noMatch]));
                steps.Add((bare, null, [noMatch]));
            }
            if (passCase is not null)
                steps.Add((new FwSut(net, passCase), passCase, passCase.Mixes));
            steps.Add((new XdpFilterSut(net, xdpFilter), peerCase, [noMatch]));
            if (nft is not null)
            {
                steps.Add((new NftSut(nft, NftForm.Best), peerCase, [noMatch]));
                steps.Add((new NftSut(nft, NftForm.Plain), peerCase, [noMatch]));
            }
        }

        var duration = TimeSpan.FromSeconds(o.Duration);
        for (int run = 0; run < o.Runs; run++)
        {
            // Every run visits every scenario, in reverse order every other run, so drift hits all alike.
            var order = run % 2 == 0 ? steps : Enumerable.Reverse(steps).ToList();
            foreach (var (sut, c, mixes) in order)
            {
                cancel.Token.ThrowIfCancellationRequested();
                sut.Start();
                try
                {
                    uint? progId = sut.HasXdpProgram ? net.Run(() => Firewall.AttachedProgramId(net.SutIf)) : null;
                    foreach (var mix in mixes)
                    {
                        ulong rx0 = net.RxPackets();
                        ulong? c0 = sut.Counted(mix);
                        ulong? f0 = sut.FlowsInserted();
                        var l0 = sut.LogCounts();
                        var lim0 = sut.LimitChecks();
                        var rate = gen.Measure(mix, duration, progId);
                        ulong? c1 = sut.Counted(mix);
                        ulong? f1 = sut.FlowsInserted();
                        var logged = sut.LogCounts() is { } l1 && l0 is { } l0v ? l1 - l0v : (LogCounts?)null;
                        var limits = sut.LimitChecks() is { } lim1 && lim0 is { } lim0v ? lim1 - lim0v : (LimitChecks?)null;
                        ulong rx1 = net.RxPackets();
                        ulong? counted = c0 is not null && c1 is not null ? c1.Value - c0.Value : null;
                        ulong? inserted = f0 is not null && f1 is not null ? f1.Value - f0.Value : null;
                        if (c is { Stateful: true })
                            VerifyFlows(sut, mix, counted, rx1 - rx0, inserted, o.Threads);
                        Verify(sut, mix, rate, counted, rx1 - rx0);
                        if (limits is { } lc)
                            VerifyLimits(sut, mix, lc, rx1 - rx0);
                        results.Add(sut.Name, c, mix, rate, counted is ulong n ? new Tally(n, rx1 - rx0, inserted, logged, limits) : null);
                        string prog = rate.ProgNs is double p ? $"program {p,7:N1} ns" : "program    none  ";
                        string flows = (inserted is ulong fl ? $"  {fl:N0} flow(s) inserted" : "") +
                            (logged is { } lg ? $"  log: {lg.Written:N0} written, {lg.OverRate:N0} over rate, {lg.Full:N0} ring full" : "") +
                            (limits is { } lm ? $"  limit: {lm.Within:N0} within, {lm.Over:N0} over" : "");
                        log.WriteLine($"run {run + 1}/{o.Runs}  {sut.Name,-22} {c?.Label ?? "",-34} {mix.Name,-11}  {prog}  path {rate.PathNs,7:N1} ns  delivered {rate.RxPps / 1e6,6:N3} Mpps{flows}");
                    }
                }
                finally
                {
                    sut.Stop();
                }
            }
        }
        results.Senders.AddRange(SenderCheck.Run(net, bare, noMatch, o.Quick ? 3 : o.Runs, 2_000_000, log));
        foreach (var s in steps.Select(s => s.Sut).Distinct())
            s.Dispose();
    }

    results.Write(o.Out);
    log.WriteLine($"wrote {o.Out}/throughput.md, throughput.csv, throughput.dat ({total.Elapsed.TotalMinutes:N1} min)");
    return 0;
}
catch (OperationCanceledException)
{
    log.WriteLine("bench: stopped before the end; nothing written");
    return 1;
}
finally
{
    net?.Dispose();
    Directory.Delete(dir, recursive: true);
}

// Every frame sent in the measured window arrived (veth counts what it hands to XDP or the stack in rx_packets)
// and the program ran once per frame; the system's own count of what it did over the whole measurement (warm-up
// included) is every frame the interface received: the mix did what it says.
static void Verify(Sut sut, Mix mix, Rate rate, ulong? counted, ulong rx)
{
    static bool Near(double a, double b) => b > 0 && Math.Abs(a - b) <= 0.001 * b + 64;
    if (!Near(rate.Rx, rate.Sent))
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: sent {rate.Sent:N0} frames, the interface received {rate.Rx:N0}");
    if (rate.ProgNs is not null && !Near(rate.ProgRuns, rate.Rx))
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: the interface received {rate.Rx:N0} frames, its XDP program ran {rate.ProgRuns:N0} times");
    if (counted is ulong n && !Near(n, rx))
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: the interface received {rx:N0} frames, the system counted {n:N0} as the mix expects");
}

// fw + live set + limit: every frame the interface received was one limit check within the rate (the police rule's,
// which then does not match), none over it.
static void VerifyLimits(Sut sut, Mix mix, LimitChecks l, ulong rx)
{
    if (l.Over != 0 || Math.Abs((double)l.Within - rx) > 0.001 * rx + 64)
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: the interface received {rx:N0} frames; limit checks: {l.Within:N0} within the rate, {l.Over:N0} over " +
            "(expected one within the rate per frame, none over)");
}

// fw + state: the established mix's frames all matched the `established` rule but the first of each flow (the
// track rule's, at most one per flow and sending CPU, racing), and no other traffic put a flow into the table.
static void VerifyFlows(Sut sut, Mix mix, ulong? counted, ulong rx, ulong? inserted, int threads)
{
    if (counted is not ulong n || inserted is not ulong ins)
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: no counters of the rule and the flow table");
    double share = rx == 0 ? 0 : (double)n / rx;
    if (mix.Rule == 0)
    {
        if (share < Tally.AllButFirst)
            throw new InvalidOperationException($"{sut.Name}, {mix.Name}: only {n:N0} of {rx:N0} frames ({share:P3}) matched `{Synthetic.EstablishedRule}`: " +
                $"the flows were not established (expected all but the first of each of {Synthetic.Flows} flows; {ins:N0} flow(s) inserted)");
        if (ins > (ulong)(Synthetic.Flows * threads))
            throw new InvalidOperationException($"{sut.Name}, {mix.Name}: {ins:N0} flows inserted for {Synthetic.Flows} flows: flows went out of the table and came back");
    }
    else if (ins != 0)
    {
        throw new InvalidOperationException($"{sut.Name}, {mix.Name}: {ins:N0} flow(s) inserted by traffic that matches no rule and no flow");
    }
}
