using System.Text;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// Synthetic rulesets for the scale figures, as bench/Fw.Bench.Cost writes them: a big set first (rule 0,
/// <c>src: "@big"</c>), then varied rules up to the count. A copy of that writer (Fw.Bench.Cost is being
/// changed elsewhere), with a variant (shifts every rule's port, so two variants differ in digest and in
/// every port class) and an optional <c>interfaces:</c> list for fwd.
/// </summary>
internal static class Synthetic
{
    public static string Write(string dir, int rules, int prefixes, int variant = 0, string? iface = null)
    {
        var yaml = new StringBuilder("default: pass\n");
        if (iface is not null)
            yaml.Append($"interfaces: [{iface}]\n");
        if (prefixes > 0)
        {
            string set = Path.Combine(dir, $"set-{prefixes}.txt");
            if (!File.Exists(set))
                WriteSet(set, prefixes);
            yaml.Append($"sets:\n  big: {{ file: {Path.GetFileName(set)} }}\n");
        }
        yaml.Append("rules:\n");
        int first = 0;
        if (prefixes > 0)
        {
            yaml.Append("  - name: big-set\n    src: \"@big\"\n    action: drop\n");
            first = 1;
        }
        for (int i = first; i < rules; i++)
        {
            // Rule i: TCP or UDP from its own /32 (v4) or /64 (v6) to port 1000 + i (+ 10,000 per variant).
            string src = i % 4 == 3 ? $"\"2001:db8:{i:x}::/64\"" : $"198.18.{i / 256}.{i % 256}/32";
            yaml.Append($"  - name: r{i}\n    src: {src}\n    proto: {(i % 2 == 0 ? "tcp" : "udp")}\n    dport: {1000 + i + 10_000 * variant}\n    action: drop\n");
        }
        string path = Path.Combine(dir, $"rules-{rules}-{prefixes}-{variant}{(iface is null ? "" : "-" + iface)}.yaml");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }

    // A blocklist-like mix (set contents only: no traffic goes there): 80% IPv4 /16-/32, most /24 and /32,
    // spread over 1.0.0.0-191.255.255.255; 20% IPv6 /48-/128 inside 2001:db8:8000::/33.
    private static void WriteSet(string path, int count)
    {
        var rng = new Random(count);
        var seen = new HashSet<(UInt128, int)>();
        using var w = new StreamWriter(path);
        while (seen.Count < count)
        {
            if (rng.Next(5) > 0)
            {
                int[] lens = [16, 20, 22, 24, 24, 24, 24, 28, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32];
                int len = lens[rng.Next(lens.Length)];
                uint a = (uint)rng.NextInt64(0x01000000L, 0xC0000000L) & uint.MaxValue << (32 - len);
                if (seen.Add(((UInt128)a, len)))
                    w.WriteLine($"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/{len}");
            }
            else
            {
                int[] lens = [48, 56, 64, 64, 128];
                int len = lens[rng.Next(lens.Length)];
                UInt128 random = (UInt128)(ulong)rng.NextInt64() << 64 | (ulong)rng.NextInt64();
                UInt128 a = ((UInt128)0x20010db8UL << 96 | (UInt128)1 << 95 | random >> 33) & UInt128.MaxValue << (128 - len);
                if (seen.Add((a, len)))
                    w.WriteLine($"{new System.Net.IPAddress(ToBytes(a))}/{len}");
            }
        }
    }

    private static byte[] ToBytes(UInt128 a)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, a);
        return b;
    }
}
