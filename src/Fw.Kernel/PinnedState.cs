using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>
/// Where fw keeps an interface's kernel objects, so every process (fwctl, fwd, bpftool) sees the same:
/// <code>
/// /sys/fs/bpf/fw/IFACE/prog       the attached XDP program (fw_dispatch)
/// /sys/fs/bpf/fw/IFACE/link       its XDP link
/// /sys/fs/bpf/fw/IFACE/fw_stats   per-CPU counters, shared by every generation
/// /sys/fs/bpf/fw/IFACE/fw_progs   the one-slot program array: the live generation
/// /sys/fs/bpf/fw/IFACE/fw_meta    generation, ruleset file, digest, counts, load time
/// /sys/fs/bpf/fw/IFACE/gen-N/     generation N: its classifier ("classifier") and maps
/// </code>
/// </summary>
public static class PinLayout
{
    public const string BpfFs = "/sys/fs/bpf";
    public const string Root = BpfFs + "/fw";
    public const string LockDir = "/run/fw";

    public static string Dir(string iface) => $"{Root}/{iface}";

    public static string Prog(string iface) => $"{Dir(iface)}/prog";

    public static string Link(string iface) => $"{Dir(iface)}/link";

    public static string Stats(string iface) => $"{Dir(iface)}/fw_stats";

    public static string Progs(string iface) => $"{Dir(iface)}/fw_progs";

    public static string Meta(string iface) => $"{Dir(iface)}/fw_meta";

    public static string Generation(string iface, ulong gen) => $"{Dir(iface)}/gen-{gen}";

    /// <summary>The maps of a generation that are pinned (all the classifier's own maps).</summary>
    public static readonly string[] GenerationMaps =
    [
        "fw_rules", "fw_rule_names", "fw_bitmaps", "fw_summary", "fw_proto", "fw_sport_dir", "fw_sport_page", "fw_dport_dir",
        "fw_dport_page", "fw_tcp_flags", "fw_icmp_type",
        "fw_src4_dir", "fw_src4_node", "fw_src4_leaf", "fw_src4_tail", "fw_src6_dir", "fw_src6_node", "fw_src6_leaf", "fw_src6_tail",
        "fw_dst4_dir", "fw_dst4_node", "fw_dst4_leaf", "fw_dst4_tail", "fw_dst6_dir", "fw_dst6_node", "fw_dst6_leaf", "fw_dst6_tail",
        "fw_tx", "fw_trace_out",
    ];

    public const string ClassifierPin = "classifier";

    /// <summary>Interfaces with fw state pinned.</summary>
    public static IReadOnlyList<string> Interfaces() =>
        Directory.Exists(Root)
            ? Directory.GetDirectories(Root).Select(Path.GetFileName).Where(n => File.Exists(Meta(n!))).Select(n => n!).Order().ToList()
            : [];

    /// <summary>Mounts bpffs at /sys/fs/bpf when nothing is mounted there.</summary>
    public static void EnsureBpfFs()
    {
        if (IsBpfFs(BpfFs))
            return;
        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mount", ["-t", "bpf", "bpf", BpfFs])
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

    /// <summary>Removes a pin directory and everything pinned in it (bpffs unlink drops the pin's reference).</summary>
    public static void RemoveTree(string dir)
    {
        if (!Directory.Exists(dir))
            return;
        foreach (string sub in Directory.GetDirectories(dir))
            RemoveTree(sub);
        foreach (string f in Directory.GetFiles(dir))
            File.Delete(f);
        Directory.Delete(dir);
    }
}

/// <summary>
/// One writer per interface: an exclusive flock on /run/fw/IFACE.lock, held for a whole attach, reload
/// or detach, so fwctl and fwd never interleave two changes. Released on dispose or process death.
/// </summary>
/// <remarks>
/// The file is opened with open(2), not a FileStream: .NET takes its own shared flock on every file it opens
/// for writing and throws "being used by another process" when that fails, so a second writer would be
/// refused at once instead of waiting here for the first to finish.
/// </remarks>
public sealed class InterfaceLock : IDisposable
{
    // The interfaces whose lock this thread holds: InterfaceState.Open repairs under the lock, and must not
    // wait for one its own caller (a reload, fwctl test) already holds.
    [ThreadStatic]
    private static HashSet<string>? t_held;

    private readonly FdHandle _file;
    private readonly string _iface;

    private InterfaceLock(FdHandle file, string iface)
    {
        _file = file;
        _iface = iface;
        (t_held ??= []).Add(iface);
    }

    internal static bool HeldByThisThread(string iface) => t_held?.Contains(iface) == true;

    public static InterfaceLock Acquire(string iface, TimeSpan timeout)
    {
        Directory.CreateDirectory(PinLayout.LockDir);
        string path = Path.Combine(PinLayout.LockDir, iface + ".lock");
        int fd = Interop.open(path, Interop.ORdWr | Interop.OCreat | Interop.OCloexec, 0x1a4 /* 0644 */);
        if (fd < 0)
            throw new BpfException($"lock {iface}: open {path}", Marshal.GetLastPInvokeError());
        var file = new FdHandle(fd);
        var deadline = DateTime.UtcNow + timeout;
        while (Interop.flock(fd, Interop.LockEx | Interop.LockNb) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != 11 /* EWOULDBLOCK */ || DateTime.UtcNow > deadline)
            {
                file.Dispose();
                throw new BpfException($"lock {iface} (another fwctl or fwd is changing it)", errno);
            }
            Thread.Sleep(20);
        }
        return new InterfaceLock(file, iface);
    }

    public void Dispose()
    {
        t_held?.Remove(_iface);
        _file.Dispose();   // closing the fd releases the flock
    }
}
