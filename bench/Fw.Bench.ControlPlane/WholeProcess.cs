using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Fw.Lab;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// Figures of the real programs as processes, on a veth in a namespace of its own (<see cref="BenchNet"/>):
/// `fwctl reload` wall time (median of N, alternating two rulesets) and `fwctl check`, with 4,096 rules and 1,000,000
/// prefixes both in a set file and inline (a YAML list in rules.yaml), `fwctl stats IFACE` with and without --json,
/// and fwd's resident memory (VmRSS, VmHWM) once it is ready with a ruleset attached. Each program runs as
/// `nsenter --net=NS PROGRAM ...` (nsenter execs it: same pid; its own cost is measured and listed).
/// Writes Markdown to stdout. Usage: process [--runs N] [--as-built] [--big]
/// (--as-built: no JIT-setting comparisons; --big: only 4,096 rules and 1,000,000 prefixes)
/// </summary>
internal static partial class WholeProcess
{
    /// <summary>Each target (issue 16's control-plane ones) with the figure measured for it (as built), for the summary at the top.</summary>
    private static readonly List<string> s_targets = [];

    /// <summary>Issue 16: reload and check of 4,096 rules and 1,000,000 prefixes, either form, whole process.</summary>
    private const double GoalMs = 1000;

    /// <summary>Issue 16: fwd's resident memory with them loaded.</summary>
    private const double GoalMb = 150;

    public static int Run(string[] args)
    {
        int runs = ArgInt(args, "--runs", 7);
        bool asBuilt = args.Contains("--as-built");   // skip the JIT-setting comparisons
        bool bigOnly = args.Contains("--big");
        string root = RepoRoot();
        string fwctl = Path.Combine(root, "src/fwctl/bin/Release/net10.0/fwctl");
        string fwd = Path.Combine(root, "src/fwd/bin/Release/net10.0/fwd");
        foreach (string p in new[] { fwctl, fwd })
        {
            if (!File.Exists(p))
                throw new FileNotFoundException($"{p} is not built (dotnet build firewall.sln -c Release)");
        }

        var md = new StringBuilder();
        string dir = Directory.CreateTempSubdirectory("fw-cp-process-").FullName;
        try
        {
            using var net = new BenchNet(1);
            var nsenter = Times(runs, () => Exec(net, "true")).Select(t => t.Ms).ToList();
            md.AppendLine($"Each figure: median of {runs} runs (min-max), wall time of the whole process from start to exit, as " +
                $"`nsenter --net=NS PROGRAM` (nsenter alone: {Median(nsenter):N1} ms, included). A runtime setting other than " +
                "\"as built\" is an environment variable given to that run (through env), to compare JIT settings on the same build. " +
                "Prefixes \"set file\": `sets: {big: {file: set-N.txt}}`; \"inline\": the same prefixes as a YAML list in rules.yaml " +
                "(`big:` then one `- prefix` a line), the same compiled image.");
            md.AppendLine();
            md.AppendLine("| command | rules | prefixes | prefixes in | runtime setting | median ms | min-max ms | CPU ms (user+sys) median | in-process (took_ms) median | target |");
            md.AppendLine("|---|---:|---:|---|---|---:|---|---:|---:|---|");
            var cases = new List<(int Rules, int Prefixes, bool Inline)> { (10, 0, false), (4096, 1_000_000, false), (4096, 1_000_000, true) };
            foreach (var (rules, prefixes, inline) in bigOnly ? cases.Skip(1) : cases)
            {
                bool big = rules >= 4096;
                string form = prefixes == 0 ? "" : inline ? "inline" : "set file";
                string a = Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 0, inline: inline);
                string b = Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 1, inline: inline);
                var attach = Exec(net, fwctl, "attach", net.SutIf, "--rules", a, "--mode", "native");
                Console.Error.WriteLine($"attach {rules} rules, {prefixes:N0} prefixes {form}: {attach.Ms:N0} ms");
                try
                {
                    // The build's own runtime settings first; then, for the lead's choice, what two JIT settings would do.
                    foreach (string? env in asBuilt ? [null] : (string?[])[null, "DOTNET_TieredPGO=0", "DOTNET_TieredCompilation=0"])
                    {
                        var took = new List<double>();
                        int n = 0;
                        var reload = Times(runs, () =>
                        {
                            var r = Exec(net, env, fwctl, "reload", net.SutIf, "--rules", n++ % 2 == 0 ? b : a, "--json");
                            took.Add(double.Parse(TookMs().Match(r.Stdout).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                            return r;
                        });
                        Row(md, "`fwctl reload IFACE --rules FILE --json`", rules, prefixes, form, env, reload, took, big ? $"< {GoalMs:N0} ms" : "");
                        var check = Times(runs, () => Exec(net, env, fwctl, "check", a));
                        Row(md, "`fwctl check FILE`", rules, prefixes, form, env, check, null, big ? $"< {GoalMs:N0} ms" : "");
                        if (big && env is null)
                        {
                            Target($"reload of {rules:N0} rules and {prefixes:N0} prefixes, {form} (`fwctl reload`, whole process, median of {runs})", reload);
                            Target($"check of {rules:N0} rules and {prefixes:N0} prefixes, {form} (`fwctl check`, whole process, median of {runs})", check);
                        }
                        if (inline)
                            continue;   // stats read the kernel's maps: the form of the rules file does not matter
                        Row(md, "`fwctl stats IFACE`", rules, prefixes, form, env, Times(runs, () => Exec(net, env, fwctl, "stats", net.SutIf)), null, "");
                        // With IFACE: without, fwctl reads every attached interface, other runs' too (a shared machine).
                        Row(md, "`fwctl stats IFACE --json`", rules, prefixes, form, env, Times(runs, () => Exec(net, env, fwctl, "stats", net.SutIf, "--json")), null, "");
                    }
                }
                finally
                {
                    Detach(net, fwctl);
                }
            }
            md.AppendLine();
            md.AppendLine("fwd: resident memory (`/proc/PID/status` of fwd once it has logged `ready:`, the ruleset attached; then once more " +
                "after one reload caused by renaming a new rules file over the old one, once VmRSS has settled), and the time from that " +
                "rename to fwd's reload line (its 100 ms debounce included). VmHWM is the peak. The prefixes are in a set file.");
            md.AppendLine();
            md.AppendLine("| rules | prefixes | runtime setting | start to ready ms | CPU ms to ready | VmRSS ready | VmHWM ready | edit to reload ms | VmRSS after a reload | VmHWM after a reload | target |");
            md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var (rules, prefixes) in bigOnly ? [(4096, 1_000_000)] : new[] { (10, 0), (4096, 1_000_000) })
            {
                foreach (string? env in asBuilt ? [null] : (string?[])[null, "DOTNET_TieredCompilation=1 DOTNET_TieredPGO=1", "DOTNET_TieredPGO=0", "DOTNET_TieredCompilation=0"])
                    FwdMemory(md, net, env, fwd, fwctl, dir, rules, prefixes);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        Console.WriteLine("| target | measured | goal | |");
        Console.WriteLine("|---|---:|---:|---|");
        foreach (string t in s_targets)
            Console.WriteLine(t);
        Console.WriteLine();
        Console.WriteLine(md);
        return 0;
    }

    private static void Target(string what, List<Timed> runs)
    {
        double median = Median(runs.Select(r => r.Ms).ToList());
        s_targets.Add($"| {what} | {median:N0} ms | < {GoalMs:N0} ms | {(median < GoalMs ? "met" : "missed")} |");
    }

    /// <summary>
    /// Only the whole-process `fwctl reload` of RULES rules and PREFIXES prefixes (default 4,096 and 1,000,000),
    /// to compare builds or runtime settings in one session: each `--fwctl PATH` (default the built one) with each
    /// `--env "NAME=VALUE ..."` (default none), interleaved run by run so that a change of load falls on all alike.
    /// Usage: reload [--runs N] [--rules N] [--prefixes N] [--inline] [--fwctl PATH]... [--env "NAME=VALUE ..."]...
    /// (--inline: the prefixes as a YAML list in rules.yaml, not a set file)
    /// </summary>
    public static int Reload(string[] args)
    {
        bool inline = args.Contains("--inline");
        int runs = ArgInt(args, "--runs", 7);
        int rules = ArgInt(args, "--rules", 4096);
        int prefixes = ArgInt(args, "--prefixes", 1_000_000);
        var fwctls = ArgAll(args, "--fwctl").Select(Path.GetFullPath).ToList();
        if (fwctls.Count == 0)
            fwctls.Add(Path.Combine(RepoRoot(), "src/fwctl/bin/Release/net10.0/fwctl"));
        var envs = ArgAll(args, "--env").Select(e => (string?)e).ToList();
        if (envs.Count == 0)
            envs.Add(null);
        foreach (string p in fwctls)
        {
            if (!File.Exists(p))
                throw new FileNotFoundException($"{p} is not built (dotnet build firewall.sln -c Release)");
        }
        var cases = fwctls.SelectMany(f => envs.Select(e => (Fwctl: f, Env: e))).ToList();
        var times = cases.Select(_ => new List<Timed>()).ToList();
        var tooks = cases.Select(_ => new List<double>()).ToList();
        string dir = Directory.CreateTempSubdirectory("fw-cp-reload-").FullName;
        try
        {
            using var net = new BenchNet(1);
            string[] files = [Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 0, inline: inline),
                Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 1, inline: inline)];
            var attach = Exec(net, fwctls[0], "attach", net.SutIf, "--rules", files[0], "--mode", "native");
            Console.Error.WriteLine($"attach {rules} rules, {prefixes:N0} prefixes: {attach.Ms:N0} ms");
            try
            {
                int n = 0;
                for (int i = 0; i < runs; i++)
                {
                    for (int c = 0; c < cases.Count; c++)
                    {
                        var r = Exec(net, cases[c].Env, cases[c].Fwctl, "reload", net.SutIf, "--rules", files[++n % 2], "--json");
                        times[c].Add(r);
                        tooks[c].Add(double.Parse(TookMs().Match(r.Stdout).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                        Console.Error.WriteLine($"run {i + 1}: {cases[c].Fwctl} {Setting(cases[c].Env)}: {r.Ms:N0} ms, CPU {r.CpuMs:N0} ms");
                    }
                }
            }
            finally
            {
                Detach(net, fwctls[0]);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        Console.WriteLine($"`fwctl reload IFACE --rules FILE --json` of {rules:N0} rules and {prefixes:N0} prefixes{(inline ? " inline" : "")}: median of {runs} runs, " +
            "whole process as `nsenter --net=NS PROGRAM`, the cases interleaved.");
        Console.WriteLine();
        Console.WriteLine("| fwctl | runtime setting | median ms | min-max ms | CPU ms (user+sys) median | in-process (took_ms) median |");
        Console.WriteLine("|---|---|---:|---|---:|---:|");
        for (int c = 0; c < cases.Count; c++)
        {
            var ms = times[c].Select(r => r.Ms).ToList();
            Console.WriteLine($"| {cases[c].Fwctl} | {Setting(cases[c].Env)} | {Median(ms):N0} | {ms.Min():N0}-{ms.Max():N0} | " +
                $"{Median(times[c].Select(r => r.CpuMs).ToList()):N0} | {Median(tooks[c]):N0} |");
        }
        return 0;
    }

    private static IEnumerable<string> ArgAll(string[] args, string name)
    {
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == name)
                yield return args[i + 1];
        }
    }

    private static void FwdMemory(StringBuilder md, BenchNet net, string? env, string fwd, string fwctl, string dir, int rules, int prefixes)
    {
        string sub = Directory.CreateDirectory(Path.Combine(dir, $"fwd-{rules}")).FullName;
        string file = Path.Combine(sub, "rules.yaml");
        File.Copy(Synthetic.Write(sub, rules, prefixes, defaultDrop: false, variant: 0, iface: net.SutIf), file, overwrite: true);
        var psi = new ProcessStartInfo("nsenter", [$"--net={net.Ns.Path}", "--", .. Env(env), fwd, "--rules", file])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Remove("NOTIFY_SOCKET");
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            WaitFor(lines, p, "ready: ", TimeSpan.FromSeconds(60));
            double readyMs = sw.Elapsed.TotalMilliseconds;
            double readyCpu = ProcessCpuMs(p.Id);
            var (rss, hwm) = (Status(p.Id, "VmRSS"), Status(p.Id, "VmHWM"));
            // An edit: fwd sees the rename-over and reloads the other variant.
            string next = Synthetic.Write(sub, rules, prefixes, defaultDrop: false, variant: 1, iface: net.SutIf);
            var edit = Stopwatch.StartNew();
            File.Move(next, file, overwrite: true);
            WaitFor(lines, p, $"reload {net.SutIf}", TimeSpan.FromSeconds(60));
            double editMs = edit.Elapsed.TotalMilliseconds;
            // fwd logs the reload, then gives the memory of the compile back: read once VmRSS has settled.
            Settle(p.Id);
            var (rss2, hwm2) = (Status(p.Id, "VmRSS"), Status(p.Id, "VmHWM"));
            if (rules >= 4096 && env is null)
            {
                s_targets.Add($"| fwd resident with {rules:N0} rules and {prefixes:N0} prefixes attached (VmRSS once ready; after a reload; " +
                    $"the peak VmHWM, reported) | {rss}; {rss2} (peak {hwm2}) | < {GoalMb:N0} MB | {(Mb(rss) < GoalMb && Mb(rss2) < GoalMb ? "met" : "missed")} |");
            }
            md.AppendLine($"| {rules:N0} | {prefixes:N0} | {Setting(env)} | {readyMs:N0} | {readyCpu:N0} | {rss} | {hwm} | {editMs:N0} | {rss2} | {hwm2} | " +
                $"{(rules >= 4096 ? $"< {GoalMb:N0} MB resident" : "")} |");
            Console.Error.WriteLine($"fwd {rules} rules, {prefixes:N0} prefixes {Setting(env)}: ready in {readyMs:N0} ms (CPU {readyCpu:N0} ms), " +
                $"VmRSS {rss}, VmHWM {hwm}; edit to reload {editMs:N0} ms, then {rss2}, {hwm2}");
            Kill(p.Id, 15);
            if (!p.WaitForExit(30_000))
                throw new TimeoutException("fwd did not stop within 30 s of SIGTERM");
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit();
            }
            Detach(net, fwctl);
        }
    }

    /// <summary>fwctl detach, in a finally: a failure is reported, not thrown over the one under way (BenchNet removes the pins anyway).</summary>
    private static void Detach(BenchNet net, string fwctl)
    {
        var r = net.Ns.Exec(fwctl, "detach", net.SutIf);
        if (!r.Ok)
            Console.Error.WriteLine($"fwctl detach {net.SutIf}: {r.Stderr.Trim()}");
    }

    private static void WaitFor(System.Collections.Concurrent.BlockingCollection<string> lines, Process p, string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        var seen = new List<string>();
        while (sw.Elapsed < timeout)
        {
            if (lines.TryTake(out string? line, 50))
            {
                seen.Add(line);
                if (line.Contains(text, StringComparison.Ordinal))
                    return;
            }
            else if (p.HasExited)
            {
                break;
            }
        }
        throw new InvalidOperationException($"fwd did not print '{text}' (exited: {p.HasExited}):\n{string.Join("\n", seen)}");
    }

    /// <summary>Waits until VmRSS has not changed for half a second (at most 10 s).</summary>
    private static void Settle(int pid)
    {
        var sw = Stopwatch.StartNew();
        string last = Status(pid, "VmRSS");
        var since = sw.Elapsed;
        while (sw.Elapsed - since < TimeSpan.FromMilliseconds(500) && sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(50);
            string now = Status(pid, "VmRSS");
            if (now != last)
                (last, since) = (now, sw.Elapsed);
        }
    }

    private static double Mb(string formatted) =>
        double.Parse(formatted.Split(' ')[0], System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>"VmRSS:  123456 kB" as "120.6 MB" (MiB would say less; the target is in MB).</summary>
    private static string Status(int pid, string key)
    {
        string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key + ":", StringComparison.Ordinal));
        long kb = long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]);
        return $"{kb * 1024 / 1e6:N1} MB";
    }

    /// <summary>Wall time and CPU time (user + system, from the children's rusage) of one run.</summary>
    internal sealed record Timed(double Ms, double CpuMs, string Stdout);

    internal static Timed Exec(BenchNet net, string program, params string[] args) => Exec(net, null, program, args);

    /// <summary>Runs PROGRAM in the namespace, with one environment setting (NAME=VALUE, through env) or none.</summary>
    private static Timed Exec(BenchNet net, string? env, string program, params string[] args)
    {
        double cpu = ChildrenCpuMs();
        var sw = Stopwatch.StartNew();
        var r = net.Ns.Exec([.. Env(env), program, .. args], null, TimeSpan.FromMinutes(2)).Check();
        double ms = sw.Elapsed.TotalMilliseconds;
        return new Timed(ms, ChildrenCpuMs() - cpu, r.Stdout);
    }

    private static List<Timed> Times(int runs, Func<Timed> once) => Times(runs, _ => once());

    private static List<Timed> Times(int runs, Func<int, Timed> once)
    {
        var all = new List<Timed>();
        for (int i = 0; i < runs; i++)
            all.Add(once(i));
        return all;
    }

    private static string[] Env(string? env) => env is null ? [] : ["env", .. env.Split(' ')];

    private static string Setting(string? env) => env is null ? "as built" : $"`{env}`";

    private static void Row(StringBuilder md, string command, int rules, int prefixes, string form, string? env, List<Timed> runs, List<double>? took, string target)
    {
        var ms = runs.Select(r => r.Ms).ToList();
        var cpu = runs.Select(r => r.CpuMs).ToList();
        md.AppendLine($"| {command} | {rules:N0} | {prefixes:N0} | {form} | {Setting(env)} | {Median(ms):N0} | {ms.Min():N0}-{ms.Max():N0} | {Median(cpu):N0} | " +
            $"{(took is null ? "" : Median(took).ToString("N0"))} | {target} |");
        Console.Error.WriteLine($"{command} {rules} rules {form} {Setting(env)}: median {Median(ms):N0} ms ({ms.Min():N0}-{ms.Max():N0}), CPU {Median(cpu):N0} ms");
    }

    /// <summary>User + system CPU of every child this process has waited for (getrusage RUSAGE_CHILDREN).</summary>
    private static double ChildrenCpuMs()
    {
        if (GetRusage(-1 /* RUSAGE_CHILDREN */, out var u) != 0)
            throw new InvalidOperationException("getrusage failed");
        return (u.UserSec + u.SysSec) * 1000.0 + (u.UserUsec + u.SysUsec) / 1000.0;
    }

    /// <summary>The start of struct rusage (x86-64 and arm64 Linux: two timevals of longs).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSec, UserUsec, SysSec, SysUsec;
        private unsafe fixed long _rest[14];
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRusage(int who, out RUsage usage);

    /// <summary>utime + stime of a running process (/proc/PID/stat, clock ticks of 10 ms).</summary>
    private static double ProcessCpuMs(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) * 10.0;   // fields 14 and 15 of stat(5)
    }

    public static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "firewall.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("repository root (firewall.sln) not found");
    }

    private static int ArgInt(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }

    [GeneratedRegex(@"""took_ms"":\s*([0-9.]+)")]
    private static partial Regex TookMs();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);
}
