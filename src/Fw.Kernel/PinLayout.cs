using Fw.Bpf;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// Where fw keeps an interface's kernel objects, so every process (fwctl, fwd, bpftool) sees the same:
/// <code>
/// /sys/fs/bpf/fw/IFACE/prog       the attached XDP program (fw_dispatch)
/// /sys/fs/bpf/fw/IFACE/link       its XDP link
/// /sys/fs/bpf/fw/IFACE/fw_stats   per-CPU counters, shared by every generation
/// /sys/fs/bpf/fw/IFACE/fw_progs   the one-slot program array: the live generation
/// /sys/fs/bpf/fw/IFACE/fw_meta    generation, ruleset file, digest, counts, load time
/// /sys/fs/bpf/fw/IFACE/conntrack  the flow table (fw_ct), once a ruleset names state or track; egress: its TC program
/// /sys/fs/bpf/fw/IFACE/log        the packet log (fw_log) and log_bucket, once a ruleset logs something
/// /sys/fs/bpf/fw/IFACE/limits     the limits' buckets (fw_limit), once a rule has a limit
/// /sys/fs/bpf/fw/IFACE/sets/NAME/ a live set: entries (its LPM trie) and stats (its per-CPU counters)
/// /sys/fs/bpf/fw/IFACE/gen-N/     generation N: its classifier ("classifier") and maps
/// </code>
/// </summary>
public static class PinLayout
{
    public const string BpfFs = "/sys/fs/bpf";
    public const string Root = BpfFs + "/fw";
    public const string LockDir = "/run/fw";

    /// <summary>The interface's pin directory; a name the kernel would refuse (a path, "..") throws before any path is built.</summary>
    public static string Dir(string iface) => $"{Root}/{InterfaceName.Checked(iface)}";

    public static string Prog(string iface) => $"{Dir(iface)}/prog";

    public static string Link(string iface) => $"{Dir(iface)}/link";

    public static string Stats(string iface) => $"{Dir(iface)}/fw_stats";

    public static string Progs(string iface) => $"{Dir(iface)}/fw_progs";

    public static string Meta(string iface) => $"{Dir(iface)}/fw_meta";

    /// <summary>The flow table (fw_ct), shared by every generation while a ruleset names state or track.</summary>
    public static string Conntrack(string iface) => $"{Dir(iface)}/conntrack";

    /// <summary>The packet log's ring buffer (fw_log), shared by every generation once a ruleset logs something.</summary>
    public static string Log(string iface) => $"{Dir(iface)}/log";

    /// <summary>The packet log's token bucket (fw_log_bucket), beside it.</summary>
    public static string LogBucket(string iface) => $"{Dir(iface)}/log_bucket";

    /// <summary>The egress program that records flows leaving the interface (attached as a TC filter).</summary>
    public static string Egress(string iface) => $"{Dir(iface)}/egress";

    /// <summary>The limits' buckets (fw_limit), shared by every generation once a rule has a limit.</summary>
    public static string Limits(string iface) => $"{Dir(iface)}/limits";

    /// <summary>The live sets' directory.</summary>
    public static string Sets(string iface) => $"{Dir(iface)}/sets";

    /// <summary>A live set's directory; a name that is not a set name (a path, "..") throws before any path is built.</summary>
    public static string Set(string iface, string name) => $"{Sets(iface)}/{SetName.Checked(name)}";

    /// <summary>A live set's LPM trie.</summary>
    public static string SetEntries(string iface, string name) => $"{Set(iface, name)}/entries";

    /// <summary>A live set's per-CPU counters (enum fw_set_counter).</summary>
    public static string SetStats(string iface, string name) => $"{Set(iface, name)}/stats";

    public static string Generation(string iface, ulong gen) => $"{Dir(iface)}/gen-{gen}";

    /// <summary>The classifier's maps that are not per match field (those come from <see cref="MatchFields"/>).</summary>
    public static readonly string[] RuleMaps = ["fw_rules", "fw_rule_names", "fw_bitmaps", "fw_summary", "fw_tx", "fw_trace_out", "fw_ct_conf", "fw_set_conf", "fw_sets", "fw_set_stats"];

    /// <summary>The maps of a generation that are pinned: all the classifier's own maps (not the shared fw_stats).</summary>
    public static readonly string[] GenerationMaps = [.. RuleMaps, .. MatchFields.All.SelectMany(f => f.Maps)];

    /// <summary>
    /// The classifier's per-packet scratch (fw_scratch: the packet's match input, per CPU): neither pinned nor
    /// shared, so each loaded object, fwctl test's copy included, has its own and a BPF_PROG_TEST_RUN never shares
    /// it with the traffic of an attached generation.
    /// </summary>
    public static readonly string[] ScratchMaps = ["fw_scratch"];

    public const string ClassifierPin = "classifier";

    /// <summary>Interfaces with fw state pinned.</summary>
    public static IReadOnlyList<string> Interfaces()
    {
        CheckRoot();
        return Directory.Exists(Root)
            ? Directory.GetDirectories(Root).Select(Path.GetFileName).Where(n => File.Exists(Meta(n!))).Select(n => n!).Order().ToList()
            : [];
    }

    /// <summary>
    /// Mounts bpffs at /sys/fs/bpf when nothing is mounted there, mode 0700: only root can then create entries
    /// beside fw's (a bpffs mounted by someone else keeps its mode; fw's own directory is checked either way).
    /// </summary>
    public static void EnsureBpfFs()
    {
        if (IsBpfFs(BpfFs))
            return;
        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mount", ["-t", "bpf", "-o", "mode=0700", "bpf", BpfFs])
        {
            RedirectStandardError = true,
        })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 || !IsBpfFs(BpfFs))
            throw new BpfException($"mount bpffs at {BpfFs}", 0, err.Trim());
    }

    private static bool IsBpfFs(string path) =>
        File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, var mnt, "bpf", ..] && mnt == path);

    /// <summary>Removes /sys/fs/bpf/fw once no interface is left in it.</summary>
    public static void RemoveRootIfEmpty()
    {
        try
        {
            if (Directory.Exists(Root) && !Directory.EnumerateFileSystemEntries(Root).Any())
                Directory.Delete(Root);
        }
        catch (IOException)
        {
            // Another interface was attached meanwhile: the directory stays.
        }
    }

    /// <summary>
    /// Removes a pin directory and everything pinned in it (bpffs unlink drops the pin's reference), never
    /// following a symlink: a link found there is unlinked, its target untouched.
    /// </summary>
    public static void RemoveTree(string dir) => OwnDirectory.RemoveTree(dir);

    /// <summary>
    /// fw's directory under bpffs, made if missing (mode 0700), and refused unless it is a real directory owned by
    /// root that no one else may write: /sys/fs/bpf is often mode 1777, so anyone could have made /sys/fs/bpf/fw
    /// first, with links in it to where root's removal of leftovers would do harm.
    /// </summary>
    public static void EnsureRoot()
    {
        EnsureBpfFs();
        OwnDirectory.Ensure(Root);
    }

    /// <summary>Refuses a /sys/fs/bpf/fw that someone other than root made or can write (see <see cref="EnsureRoot"/>); none is fine.</summary>
    public static void CheckRoot()
    {
        if (OwnDirectory.Exists(Root))
            OwnDirectory.Check(Root);
    }

    /// <summary>An interface's pin directory, made mode 0700 in the checked root.</summary>
    public static string CreateDir(string iface)
    {
        EnsureRoot();
        string dir = Dir(iface);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        OwnDirectory.Check(dir);
        return dir;
    }
}
