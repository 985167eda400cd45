using System.Diagnostics;
using System.Text;
using Fw.Bpf;
using Fw.Control;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// Live sets at run time (issue 15), on a veth in a namespace of its own with fw attached (native XDP) and two live
/// sets: one `fwctl set add` of one entry (the kernel's part: the BPF map update of one entry into the pinned set, timed
/// one by one; LiveSets.Add in-process; the whole fwctl process), and `fwctl set sync` of 100,000 entries (into an empty
/// set, and changing 10% of a full one: LiveSets.Sync in-process, the whole fwctl process).
/// <para>A plain timed driver, as <see cref="WholeProcess"/> is, not BenchmarkDotNet: the operations need an attached
/// interface in a namespace (BenchNet) and every sync changes the set, so each timed sync needs the set put back
/// (untimed) first; one map update is timed by itself (Stopwatch ticks around the syscall, 10,000 of them).</para>
/// Usage: livesets [--adds N] [--runs N] [--out FILE] (Markdown to FILE, or stdout).
/// </summary>
internal static class LiveSetBench
{
    /// <summary>The set `fwctl set add` goes to, and the one the syncs fill (its max above 100,000).</summary>
    private const string AddSet = "banned", SyncSet = "feed";

    private const int SyncEntries = 100_000, SyncMax = 131_072, Timeout = 600;

    private static readonly string Rules = $$"""
        default: pass
        sets:
          {{AddSet}}: { dynamic: true, timeout: {{Timeout}}, max: 65536 }
          {{SyncSet}}: { dynamic: true, timeout: {{Timeout}}, max: {{SyncMax}} }
        rules:
          - name: drop-banned
            src: "@{{AddSet}}"
            action: drop
          - name: drop-feed
            src: "@{{SyncSet}}"
            action: drop

        """;

    public static int Run(string[] args)
    {
        int adds = Arg(args, "--adds", 10_000);
        int runs = Arg(args, "--runs", 7);
        int i = Array.IndexOf(args, "--out");
        string? outFile = i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        Firewall.RequireRoot();
        string root = WholeProcess.RepoRoot();
        string fwctl = Path.Combine(root, "src/fwctl/bin/Release/net10.0/fwctl");
        if (!File.Exists(fwctl))
            throw new FileNotFoundException($"{fwctl} is not built (dotnet build firewall.sln -c Release)");

        string started = $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
        string loadBefore = LoadAverage();
        string dir = Directory.CreateTempSubdirectory("fw-cp-livesets-").FullName;
        var addRows = new List<string>();
        var syncRows = new List<string>();
        var targets = new List<string>();
        var notes = new List<string>();
        try
        {
            string rules = Path.Combine(dir, "rules.yaml");
            File.WriteAllText(rules, Rules);
            var check = RulesCheck.Check(rules);
            if (!check.Ok)
                throw new InvalidOperationException(string.Join("\n", check.Diagnostics));
            using var net = new BenchNet(1);
            net.Run(() => Deployment.Attach(net.SutIf, check, XdpMode.Native));
            try
            {
                // ---- One add ---------------------------------------------------------------------------------
                var (fresh, renew) = net.Run(() => KernelPuts(net.SutIf, adds));
                addRows.Add(NsRow("BPF map update of one new entry (`LiveSetMap.Put` on the pinned set: the syscall, timed one by one)", fresh));
                addRows.Add(NsRow("BPF map update of an entry already there (a renewal)", renew));
                double addNs = Median(fresh);
                targets.Add($"| one `fwctl set add` of one entry, in the kernel: the BPF map update into the live set of an attached interface (median of {adds:N0}, the set growing from 0 to {adds:N0} entries) | " +
                    $"{Micro(addNs)} | < 1 ms | {(addNs < 1e6 ? "met" : "missed")} |");
                if (InProcessAdd is { } add)
                    addRows.Add(NsRow("`LiveSets.Add` of one entry in-process (the interface lock, the live generation's set conf, open the pins, look up, update, count)",
                        net.Run(() => InProcessAdds(net.SutIf, Math.Min(adds, 2000), add))));
                bool hasSetCommand = net.Ns.Exec(fwctl, "set", "list", net.SutIf).Ok;
                if (!hasSetCommand)
                    notes.Add("`fwctl set` is not in this build: its whole-process figures are not measured.");
                var nsenter = Enumerable.Range(0, runs).Select(_ => WholeProcess.Exec(net, "true").Ms).ToList();
                var process = new List<double>();
                for (int r = 0; r < (hasSetCommand ? runs : 0); r++)
                {
                    string addr = $"203.0.113.{r + 1}";
                    process.Add(WholeProcess.Exec(net, fwctl, "set", "add", net.SutIf, AddSet, addr).Ms);
                    if (!net.Run(() => InSet(net.SutIf, AddSet, IpPrefix.FromAddress(System.Net.IPAddress.Parse(addr)))))
                        throw new InvalidOperationException($"fwctl set add {net.SutIf} {AddSet} {addr}: not in the set afterwards");
                }
                if (hasSetCommand)
                    addRows.Add(MsRow($"`fwctl set add IFACE {AddSet} ADDRESS`, whole process (nsenter alone: {Median(nsenter):N1} ms, included)", process));

                // ---- Sync ------------------------------------------------------------------------------------
                var listA = SyncList(SyncEntries, 0);
                var listB = listA.Take(SyncEntries - SyncEntries / 10).Concat(SyncList(SyncEntries / 10, 1)).ToList();
                string fileA = WriteList(dir, "a.txt", listA), fileB = WriteList(dir, "b.txt", listB);

                // In-process, each way of syncing: the set emptied (untimed), synced to A, then to B (10% changed).
                var syncs = new List<(string Name, Func<string, string, IReadOnlyList<IpPrefix>, int> Sync)> { (DirectName, SyncDirect) };
                AddSyncs(syncs);
                var problems = new List<string>();
                var figures = new Dictionary<string, (List<double> Empty, List<double> Change)>();
                for (int r = 0; r < runs; r++)
                {
                    foreach (var (name, sync) in syncs)
                    {
                        if (!figures.TryGetValue(name, out var f))
                            figures[name] = f = ([], []);
                        net.Run(() => Empty(net.SutIf, SyncSet));
                        f.Empty.Add(net.Run(() => Timed(() => sync(net.SutIf, SyncSet, listA))));
                        Verify(net, listA, listB, $"{name} into an empty set", problems);
                        f.Change.Add(net.Run(() => Timed(() => sync(net.SutIf, SyncSet, listB))));
                        Verify(net, listB, listA, $"{name} changing 10%", problems);
                    }
                }
                foreach (var (name, _) in syncs)
                {
                    var (e, c) = figures[name];
                    var pe = problems.Where(p => p.StartsWith(name + " into")).ToList();
                    var pc = problems.Where(p => p.StartsWith(name + " changing")).ToList();
                    syncRows.Add(SyncRow($"{name}, in-process", "empty", e, pe));
                    syncRows.Add(SyncRow($"{name}, in-process", $"{SyncEntries:N0}, 10% changed", c, pc));
                    if (name == DirectName && syncs.Count > 1)
                        continue;   // the targets are LiveSets.Sync's once it is there
                    targets.Add($"| sync of {SyncEntries:N0} entries into an empty set ({name}, in-process wall time, median of {runs}) | {Median(e):N0} ms | < 1 s | {Verdict(Median(e), pe)} |");
                    targets.Add($"| sync changing 10% of a {SyncEntries:N0}-entry set ({name}, in-process wall time, median of {runs}) | {Median(c):N0} ms | < 1 s | {Verdict(Median(c), pc)} |");
                }

                // The whole process: fwctl set sync IFACE SET --file FILE.
                var emptyProc = new List<double>();
                var changeProc = new List<double>();
                var procProblems = new List<string>();
                for (int r = 0; r < (hasSetCommand ? runs : 0); r++)
                {
                    net.Run(() => Empty(net.SutIf, SyncSet));
                    emptyProc.Add(WholeProcess.Exec(net, fwctl, "set", "sync", net.SutIf, SyncSet, "--file", fileA).Ms);
                    Verify(net, listA, listB, "fwctl set sync into an empty set", procProblems);
                    changeProc.Add(WholeProcess.Exec(net, fwctl, "set", "sync", net.SutIf, SyncSet, "--file", fileB).Ms);
                    Verify(net, listB, listA, "fwctl set sync changing 10%", procProblems);
                }
                if (hasSetCommand)
                {
                    var pe = procProblems.Where(p => p.Contains("empty")).ToList();
                    var pc = procProblems.Where(p => p.Contains("10%")).ToList();
                    syncRows.Add(SyncRow($"`fwctl set sync IFACE {SyncSet} --file FILE`, whole process", "empty", emptyProc, pe));
                    syncRows.Add(SyncRow($"`fwctl set sync IFACE {SyncSet} --file FILE`, whole process", $"{SyncEntries:N0}, 10% changed", changeProc, pc));
                    targets.Add($"| the same syncs as `fwctl set sync IFACE SET --file FILE` (whole process: start, read and parse the file, sync, exit; median of {runs}): into an empty set; changing 10% | " +
                        $"{Median(emptyProc):N0} ms; {Median(changeProc):N0} ms | < 1 s | {Verdict(Median(emptyProc), pe)}; {Verdict(Median(changeProc), pc)} |");
                }
                notes.AddRange(problems.Concat(procProblems).Distinct());
            }
            finally
            {
                net.Run(() => { Firewall.Detach(net.SutIf); return 0; });
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        var md = new StringBuilder();
        md.AppendLine("# Live sets: control-plane cost");
        md.AppendLine();
        md.AppendLine($"Command: `sudo bench/livesets` (Fw.Bench.ControlPlane {string.Join(' ', args)}). Written {started}.");
        md.AppendLine();
        md.AppendLine($"- kernel {Sh("uname", "-r")}, {Environment.ProcessorCount} CPUs ({CpuModel()}), {MemGiB()} GiB; .NET {Environment.Version}");
        md.AppendLine($"- load average (1, 5, 15 min) before: {loadBefore}; after: {LoadAverage()}. The machine is shared: wall times rise with the load.");
        md.AppendLine("- fw attached (native XDP) to one end of a veth pair in a network namespace of its own, with the ruleset below; the sets are the interface's pinned live sets " +
            "(LPM tries, BPF_F_NO_PREALLOC), as `fwctl set` finds them. Everything is removed after the run.");
        md.AppendLine();
        md.AppendLine("```yaml");
        md.Append(Rules);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | target | |");
        md.AppendLine("|---|---:|---:|---|");
        foreach (string t in targets)
            md.AppendLine(t);
        md.AppendLine();
        md.AppendLine("## One add");
        md.AppendLine();
        md.AppendLine($"Kernel: {adds:N0} new /32s into `{AddSet}` one at a time (the set grows from 0 to {adds:N0}), then the same {adds:N0} again (renewals); each update timed by itself " +
            "(Stopwatch ticks around `bpf(BPF_MAP_UPDATE_ELEM)` through libbpf: the kernel's work plus a P/Invoke and a syscall entry). " +
            (InProcessAdd is null ? "" : $"In-process: `LiveSets.Add` of one new /32 ({Math.Min(adds, 2000):N0} times), what `fwctl set add` does once it has parsed its arguments. ") +
            $"Whole process: `nsenter --net=NS fwctl set add IFACE SET ADDRESS` from start to exit, {runs} runs, each address then found in the set.");
        md.AppendLine();
        md.AppendLine("| operation | median | p90 | p99 | min-max |");
        md.AppendLine("|---|---:|---:|---:|---|");
        foreach (string r in addRows)
            md.AppendLine(r);
        md.AppendLine();
        md.AppendLine("## Sync");
        md.AppendLine();
        md.AppendLine($"`{SyncSet}` (max {SyncMax:N0}, timeout {Timeout} s). List A: {SyncEntries:N0} prefixes, 4 IPv4 /32s to 1 IPv6 /128 (198.18.0.0/15 and 2001:db8:e000::/40 hosts); " +
            $"list B: the first {SyncEntries - SyncEntries / 10:N0} of A and {SyncEntries / 10:N0} others. *empty*: the set emptied (untimed) and synced to A; " +
            "*10% changed*: then synced to B (10,000 removed, 10,000 added, 90,000 renewed). Each run does both, for each way of syncing in turn. " +
            "After every sync the set is read back (the trie's keys walked with BPF_MAP_GET_NEXT_KEY) and must hold exactly the list.");
        md.AppendLine();
        md.AppendLine("| operation | set before | median ms | min-max ms | runs | set afterwards as the list |");
        md.AppendLine("|---|---|---:|---|---:|---|");
        foreach (string r in syncRows)
            md.AppendLine(r);
        md.AppendLine();
        foreach (string n in notes)
            md.AppendLine($"- {n}");
        if (outFile is null)
            Console.Write(md);
        else
            File.WriteAllText(outFile, md.ToString());
        return 0;
    }

    /// <summary>Each new entry's update, then each renewal's, in ns; the entries removed after.</summary>
    private static (List<double> Fresh, List<double> Renew) KernelPuts(string iface, int n)
    {
        using var set = LiveSetMap.OpenPinned(iface, AddSet);
        var prefixes = Enumerable.Range(0, n).Select(i => IpPrefix.Create(IpFamily.V4, (UInt128)(0xC6120000u + (uint)i * 7919u % 0x1FFFFu) << 96, 32)).Distinct().ToList();
        var fresh = new List<double>(n);
        var renew = new List<double>(n);
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var p in prefixes)
            {
                ulong now = KernelClock.CoarseNs();
                ulong expires = now + Timeout * 1_000_000_000UL;
                long t0 = Stopwatch.GetTimestamp();
                bool ok = set.Put(p, expires, now);
                long t1 = Stopwatch.GetTimestamp();
                if (!ok)
                    throw new InvalidOperationException($"{AddSet} refused {p}");
                (pass == 0 ? fresh : renew).Add(Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds);
            }
        }
        if (Keys(set).Count != prefixes.Count)
            throw new InvalidOperationException($"{AddSet} holds {Keys(set).Count:N0} entries after {prefixes.Count:N0} puts");
        Empty(iface, AddSet);
        return (fresh, renew);
    }

    /// <summary>LiveSets.Add of one new entry, <paramref name="n"/> times, in ns each; the set emptied after.</summary>
    private static List<double> InProcessAdds(string iface, int n, Func<string, string, IpPrefix, bool> add)
    {
        var times = new List<double>(n);
        for (int i = 0; i < n; i++)
        {
            var one = IpPrefix.Create(IpFamily.V4, (UInt128)(0xAC100000u + (uint)i) << 96, 32);
            long t0 = Stopwatch.GetTimestamp();
            bool added = add(iface, AddSet, one);
            long t1 = Stopwatch.GetTimestamp();
            if (!added)
                throw new InvalidOperationException($"add {one}: not added");
            times.Add(Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds);
        }
        Empty(iface, AddSet);
        return times;
    }

    /// <summary>The sync lists: <paramref name="count"/> whole addresses, 4 IPv4 to 1 IPv6, distinct per <paramref name="seed"/>.</summary>
    private static List<IpPrefix> SyncList(int count, int seed)
    {
        var list = new List<IpPrefix>(count);
        for (int i = 0; i < count; i++)
        {
            uint k = (uint)(seed * 100_000 + i);   // IPv4 hosts within 198.18.0.0/15 (131,072)
            list.Add(i % 5 == 4
                ? IpPrefix.Create(IpFamily.V6, (UInt128)0x20010db8e0UL << 88 | (UInt128)(ulong)k << 16 | 1, 128)
                : IpPrefix.Create(IpFamily.V4, (UInt128)(0xC6120000u + k) << 96, 32));
        }
        return list;
    }

    private static string WriteList(string dir, string name, List<IpPrefix> list)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllLines(path, list.Select(p => p.ToString()));
        return path;
    }

    /// <summary>The set holds exactly <paramref name="wanted"/> (none of <paramref name="gone"/> that is not wanted); a problem is noted, not thrown.</summary>
    private static void Verify(BenchNet net, List<IpPrefix> wanted, List<IpPrefix> gone, string what, List<string> problems)
    {
        var held = net.Run(() =>
        {
            using var set = LiveSetMap.OpenPinned(net.SutIf, SyncSet);
            return Keys(set).Select(k => LiveSetMap.PrefixOf(k)).ToHashSet();
        });
        var w = wanted.ToHashSet();
        int missing = w.Count(p => !held.Contains(p));
        int extra = held.Count(p => !w.Contains(p));
        if (missing != 0 || extra != 0)
        {
            string problem = $"{what}: the set holds {held.Count:N0} entries afterwards, {missing:N0} of the list missing and {extra:N0} not in it " +
                $"({gone.Count(p => !w.Contains(p) && held.Contains(p)):N0} of them entries the sync should have removed)";
            if (!problems.Contains(problem))
                problems.Add(problem);
            Console.Error.WriteLine(problem);
        }
    }

    /// <summary>Whether the set has exactly <paramref name="p"/>.</summary>
    private static bool InSet(string iface, string name, IpPrefix p)
    {
        using var set = LiveSetMap.OpenPinned(iface, name);
        return set.TryGet(p, out _);
    }

    /// <summary>Removes every entry (untimed), walking the keys as plain bytes.</summary>
    private static int Empty(string iface, string name)
    {
        using var set = LiveSetMap.OpenPinned(iface, name);
        int removed = 0;
        for (int round = 0; round < 4; round++)
        {
            var keys = Keys(set);
            if (keys.Count == 0)
                break;
            foreach (var k in keys)
                removed += set.Entries.Delete(k) ? 1 : 0;
        }
        if (Keys(set).Count != 0)
            throw new InvalidOperationException($"{name} of {iface}: entries left after emptying it");
        return removed;
    }

    /// <summary>The trie's keys, one BPF_MAP_GET_NEXT_KEY a key (not LiveSetMap.ReadAll's batches: the reading is independent of what is measured).</summary>
    private static List<FwSetKey> Keys(LiveSetMap set) => set.Entries.Keys<FwSetKey>(set.Max + 1);

    private static double Timed(Func<int> op)
    {
        long t0 = Stopwatch.GetTimestamp();
        op();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    private const string DirectName = "LiveSetMap, one syscall an entry: read, diff, write";

    /// <summary>LiveSets.Add of one prefix, as `fwctl set add` calls it: true when it went in.</summary>
    private static readonly Func<string, string, IpPrefix, bool>? InProcessAdd = (iface, name, p) => LiveSets.Add(iface, name, [p]).Added == 1;

    private const string LiveSetsName = "`LiveSets.Sync`";

    /// <summary>LiveSets.Sync, as `fwctl set sync` calls it; returns the entries it added or renewed.</summary>
    private static void AddSyncs(List<(string Name, Func<string, string, IReadOnlyList<IpPrefix>, int> Sync)> syncs) =>
        syncs.Add((LiveSetsName, (iface, name, list) => { var c = LiveSets.Sync(iface, name, list); return c.Added + c.Refreshed; }));

    /// <summary>
    /// LiveSets.Sync's steps on LiveSetMap, one syscall an entry (no batches): read the set's keys once, remove what the
    /// list has not, put every prefix of the list (new ones added, the rest renewed to the set's timeout): a reference
    /// for LiveSets.Sync's batched reads and writes. Returns the entries after.
    /// </summary>
    private static int SyncDirect(string iface, string name, IReadOnlyList<IpPrefix> prefixes)
    {
        using var set = LiveSetMap.OpenPinned(iface, name);
        var wanted = new HashSet<IpPrefix>(prefixes);
        ulong now = KernelClock.CoarseNs();
        var current = Keys(set);
        int removed = 0;
        foreach (var k in current)
        {
            if (!wanted.Contains(LiveSetMap.PrefixOf(k)) && set.Entries.Delete(k))
                removed++;
        }
        ulong expires = now + Timeout * 1_000_000_000UL;
        foreach (var p in wanted)
        {
            if (!set.Put(p, expires, now))
                throw new InvalidOperationException($"{name} of {iface} refused {p}");
        }
        return current.Count - removed + wanted.Count;
    }

    private static string Verdict(double ms, List<string> problems) => problems.Count > 0 ? "missed (wrong result: see below)" : ms < 1000 ? "met" : "missed";

    private static string NsRow(string what, List<double> ns)
    {
        var s = ns.Order().ToList();
        return $"| {what} | {Micro(Median(s))} | {Micro(Pct(s, 0.9))} | {Micro(Pct(s, 0.99))} | {Micro(s[0])}-{Micro(s[^1])} |";
    }

    private static string MsRow(string what, List<double> ms)
    {
        var s = ms.Order().ToList();
        return $"| {what} | {Median(s):N1} ms | {Pct(s, 0.9):N1} ms | — | {s[0]:N1}-{s[^1]:N1} ms |";
    }

    private static string SyncRow(string what, string before, List<double> ms, List<string> problems) =>
        $"| {what} | {before} | {Median(ms):N0} | {ms.Min():N0}-{ms.Max():N0} | {ms.Count} | {(problems.Count == 0 ? "yes, every run" : "**no**: see below")} |";

    private static string Micro(double ns) => ns >= 1e6 ? $"{ns / 1e6:N2} ms" : ns >= 1e3 ? $"{ns / 1e3:N2} µs" : $"{ns:N0} ns";

    private static double Pct(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    private static double Median(List<double> xs) => WholeProcess.Median(xs);

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";

    private static string MemGiB() =>
        $"{long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1048576.0:N0}";

    private static string Sh(string program, params string[] args) => Fw.Lab.Command.Run(program, args, null, TimeSpan.FromSeconds(10)).Stdout.Trim();

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}
