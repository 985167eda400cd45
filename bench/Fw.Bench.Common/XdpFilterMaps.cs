using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fw.Kernel;
using Fw.Bpf;

namespace Fw.Bench;

/// <summary>Writes xdp-filter's filter maps (xdp-filter/common_kern_user.h: flags per port or address, on every CPU).</summary>
public static class XdpFilterMaps
{
    public const ulong FlagSrc = 1, FlagDst = 2, FlagTcp = 4, FlagUdp = 8;

    public const string PinDir = "/sys/fs/bpf/xdp-filter";
    private const string OwnerFile = "/run/fw-bench/xdp-filter.pid";
    private const string LibxdpDir = "/sys/fs/bpf/xdp";
    private static bool s_libxdpDirWasThere = true;

    /// <summary>
    /// xdp-filter's pins are global: take them only when nobody holds them, or when a dead benchmark run left
    /// them (its pid in /run/fw-bench/xdp-filter.pid); otherwise refuse rather than disturb another user.
    /// </summary>
    public static void ClaimPins()
    {
        if (Directory.Exists(PinDir))
        {
            string owner = File.Exists(OwnerFile) ? File.ReadAllText(OwnerFile).Trim() : "";
            if (owner.Length == 0 || Directory.Exists($"/proc/{owner}"))
                throw new InvalidOperationException($"{PinDir} exists: xdp-filter is loaded somewhere else; the benchmark leaves it alone");
            Directory.Delete(PinDir, recursive: true);
        }
        s_libxdpDirWasThere = Directory.Exists(LibxdpDir);
        Directory.CreateDirectory(Path.GetDirectoryName(OwnerFile)!);
        File.WriteAllText(OwnerFile, $"{Environment.ProcessId}\n");
    }

    /// <summary>After `xdp-filter unload`: our claim, and libxdp's (empty) folder if it appeared because of us.</summary>
    public static void ReleasePins()
    {
        File.Delete(OwnerFile);
        if (!s_libxdpDirWasThere && Directory.Exists(LibxdpDir) && !Directory.EnumerateFileSystemEntries(LibxdpDir).Any())
            Directory.Delete(LibxdpDir);
    }

    public static void Write(XdpFilterConfig cfg, string dir = PinDir)
    {
        int cpus = BpfMap.PossibleCpus;
        var ports = new Dictionary<uint, ulong>();
        foreach (var p in cfg.Ports)
        {
            uint key = (uint)(p.Port >> 8 | (p.Port & 0xff) << 8);   // the port in network byte order
            ports[key] = ports.GetValueOrDefault(key) | (p.Source ? FlagSrc : FlagDst) | (p.Tcp ? FlagTcp : 0) | (p.Udp ? FlagUdp : 0);
        }
        if (ports.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ports");
            foreach (var (k, v) in ports)
                m.UpdatePerCpu(k, Enumerable.Repeat(v, cpus).ToArray().AsSpan());
        }
        var v4 = cfg.Addresses.Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork).ToList();
        if (v4.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ipv4");
            foreach (var g in v4.GroupBy(a => a.Address))
                m.UpdatePerCpu(BitConverter.ToUInt32(g.Key.GetAddressBytes()), Enumerable.Repeat(Flags(g), cpus).ToArray().AsSpan());
        }
        var v6 = cfg.Addresses.Where(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6).ToList();
        if (v6.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ipv6");
            foreach (var g in v6.GroupBy(a => a.Address))
                m.UpdatePerCpu(new In6(g.Key.GetAddressBytes()), Enumerable.Repeat(Flags(g), cpus).ToArray().AsSpan());
        }
    }

    private static ulong Flags(IEnumerable<AddressFilter> fs) => fs.Aggregate(0UL, (f, a) => f | (a.Source ? FlagSrc : FlagDst));

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct In6
    {
        private fixed byte _b[16];

        public In6(byte[] b)
        {
            for (int i = 0; i < 16; i++)
                _b[i] = b[i];
        }
    }
}
