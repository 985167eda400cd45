using System.Globalization;
using System.Text;
using Fw.Lab;
using Fw.Traffic;

namespace Fw.Bench.Throughput;

/// <summary>One sender's figure: frames per second of CPU time on one CPU (the whole path: send, veth, XDP_DROP).</summary>
public sealed record SenderFigure(string Sender, IReadOnlyList<double> NsPerFrame)
{
    public double Median => Stats.Median(NsPerFrame.ToList());
}

/// <summary>
/// Which traffic source to use, by measurement: <see cref="PacketSender"/> (this project's AF_PACKET TX ring)
/// and netsniff-ng's trafgen (the same method in C), each on CPU 0 alone, sending the no-match IPv4 template with
/// its source address and ports varied into the bench veth with bare XDP_DROP on the other end; alternating
/// rounds. trafgen's figure is its CPU time (user + system, as bash's `times` reports for its child) per frame.
/// </summary>
public static class SenderCheck
{
    public static IReadOnlyList<SenderFigure> Run(BenchNet net, Sut bare, Mix mix, int rounds, long frames, TextWriter log)
    {
        var part = mix.Parts[0];
        string cfg = Path.Combine(Path.GetTempPath(), $"fw-trafgen-{Environment.ProcessId}.cfg");
        File.WriteAllText(cfg, TrafgenConfig(part));
        var ours = new List<double>();
        var trafgen = new List<double>();
        bare.Start();
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                ours.Add(net.Ns.Run(() =>
                {
                    PacketSender.PinThisThread(0);
                    using var s = new PacketSender(net.GenIfindex, part.Frame.Length, Generator.RingFrames);
                    s.Send(part.Frame, part.Vary, frames / 10);   // warm-up
                    ulong rx0 = net.RxPackets();
                    var res = s.Send(part.Frame, part.Vary, frames);
                    Check("PacketSender", net.RxPackets() - rx0, (ulong)res.Frames);
                    return (double)res.CpuNs / res.Frames;
                }, TimeSpan.FromMinutes(5)));
                trafgen.Add(Trafgen(net, cfg, frames));
                log.WriteLine($"senders: round {r + 1}/{rounds}  PacketSender {ours[^1]:N1} ns per frame  trafgen {trafgen[^1]:N1} ns per frame");
            }
        }
        finally
        {
            bare.Stop();
            File.Delete(cfg);
        }
        return [new SenderFigure("PacketSender (src/Fw.Traffic)", ours), new SenderFigure("netsniff-ng trafgen", trafgen)];
    }

    private static double Trafgen(BenchNet net, string cfg, long frames)
    {
        ulong rx0 = net.RxPackets();
        // bash's `times` prints the CPU time of its children (trafgen), user and system, after it exits.
        string script = $"taskset -c 0 trafgen -i '{cfg}' -o {net.GenIf} -n {frames.ToString(CultureInfo.InvariantCulture)} --cpus 1 -q >/dev/null && times";
        var r = net.Ns.Exec(["bash", "-c", script], null, TimeSpan.FromMinutes(5)).Check();
        ulong rx = net.RxPackets() - rx0;
        Check("trafgen", rx, (ulong)frames);
        var children = r.Stdout.Trim().Split('\n')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double cpuNs = children.Sum(Seconds) * 1e9;
        return cpuNs / rx;
    }

    /// <summary>A `times` figure such as 0m1.960s, in seconds.</summary>
    private static double Seconds(string t)
    {
        int m = t.IndexOf('m');
        return double.Parse(t[..m], CultureInfo.InvariantCulture) * 60 + double.Parse(t[(m + 1)..^1], CultureInfo.InvariantCulture);
    }

    private static void Check(string sender, ulong rx, ulong sent)
    {
        if (rx < sent || rx > sent + 64)
            throw new InvalidOperationException($"{sender}: sent {sent:N0} frames, the interface received {rx:N0}");
    }

    /// <summary>The template as a trafgen packet: fixed bytes, and drnd() for every byte a varied field's mask touches.</summary>
    private static string TrafgenConfig(MixPart part)
    {
        var random = new bool[part.Frame.Length];
        foreach (var f in part.Vary)
        {
            for (int b = 0; b < f.Width; b++)
            {
                int shift = 8 * (f.Width - 1 - b);
                if (((f.Mask >> shift) & 0xff) != 0)
                    random[f.Offset + b] = true;
            }
        }
        var sb = new StringBuilder("{ ");
        for (int i = 0; i < part.Frame.Length; i++)
            sb.Append(random[i] ? "drnd(1)" : $"0x{part.Frame[i]:x2}").Append(i + 1 < part.Frame.Length ? ", " : " }\n");
        return sb.ToString();
    }
}
