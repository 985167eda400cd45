using Fw.Packets;

namespace Fw.Testing.Random;

/// <summary>
/// Multi-buffer frames, as a driver hands a jumbo frame to XDP (frags): the frame's first bytes in a first
/// buffer, the rest in page fragments. The contract reads headers from the first buffer only
/// (<see cref="Reference.ReferenceEvaluator.Parse(ReadOnlySpan{byte}, int?)"/>), so these draw frames whose
/// headers end near, at or past a first buffer's end.
/// </summary>
public static class FirstBuffers
{
    /// <summary>The longest frame drawn: MTU 9000 and the Ethernet header.</summary>
    public const int MaxFrame = 9014;

    /// <summary>
    /// <paramref name="f"/> grown as jumbo traffic is: three times in ten padded with payload to 1,500-9,014 bytes;
    /// for IPv6, two times in ten also 1-2 extension headers of 1-2 KiB first (headers a full first buffer may not
    /// hold: the contract says malformed). A truncated frame stays as it is. Returns the frame and what was done.
    /// </summary>
    public static (Frame Frame, string What) Grow(System.Random rng, Frame f)
    {
        if (f.TruncateTo is not null || f.Network is null)
            return (f, "as drawn");
        string what = "as drawn";
        if (f.Network is Ipv6Header && rng.Next(10) < 2)
        {
            int count = 1 + rng.Next(2);
            var big = Enumerable.Range(0, count).Select(_ => rng.Next(2) == 0
                ? Ipv6Ext.DestOptions(8 * (128 + rng.Next(129)))
                : Ipv6Ext.HopByHop(8 * (128 + rng.Next(129)))).ToList();
            f = f.WithIpv6(h => h with { Extensions = [.. big, .. h.Extensions] });
            what = $"{count} long extension headers ({string.Join("+", big.Select(e => e.Size))} bytes)";
        }
        if (rng.Next(10) < 3)
        {
            int length = f.Build().Length;
            int target = rng.Next(Math.Max(length, 1500), MaxFrame + 1);
            f = f.WithPayload(f.Payload.Length + target - length);
            what = what == "as drawn" ? $"jumbo ({target} bytes)" : $"{what}, jumbo ({target} bytes)";
        }
        return (f, what);
    }

    /// <summary>
    /// The first buffer's length for a frame of <paramref name="length"/> bytes laid out as <paramref name="l"/>,
    /// at most <paramref name="max"/> (the driver's first buffer): four times in ten as much as fits (what a driver
    /// does), else at a layer's or an extension header's start or end, a byte either side, or anywhere.
    /// </summary>
    public static int Pick(System.Random rng, FrameLayout l, IReadOnlyList<int> extensionEnds, int length, int max)
    {
        int cap = Math.Min(length, max);
        if (rng.Next(10) < 4)
            return cap;
        if (rng.Next(10) == 0)
            return rng.Next(cap + 1);
        var edges = new List<int> { 12, 14, l.L2End, l.NetworkOffset, l.TransportOffset, l.PayloadOffset };
        edges.AddRange(extensionEnds);
        if (l.TransportOffset >= 0)
            edges.AddRange([l.TransportOffset + 8, l.TransportOffset + 20]);
        edges = edges.Where(e => e >= 0).ToList();
        int at = edges[rng.Next(edges.Count)] + rng.Next(3) - 1;
        return Math.Clamp(at, 0, cap);
    }

    /// <summary>Where each IPv6 extension header of <paramref name="f"/> ends in its frame (none for other frames).</summary>
    public static List<int> ExtensionEnds(Frame f, FrameLayout l)
    {
        var ends = new List<int>();
        if (f.Network is not Ipv6Header v6 || l.NetworkOffset < 0)
            return ends;
        int at = l.NetworkOffset + 40;
        foreach (var e in v6.Extensions)
            ends.Add(at += e.Size);
        return ends;
    }
}
