namespace Fw.Lab;

/// <summary>What a <see cref="LabWatch"/> saw, in order of arrival at each point.</summary>
/// <param name="Sent">Frames the client sent out of c0: every frame fw0's XDP program saw.</param>
/// <param name="Server">Frames that arrived on s0 (routed on by the fw namespace).</param>
/// <param name="Sink">Frames that arrived on k0 (redirected to fw2, or routed to the sink's addresses).</param>
public sealed record Seen(IReadOnlyList<CapturedFrame> Sent, IReadOnlyList<CapturedFrame> Server, IReadOnlyList<CapturedFrame> Sink);

/// <summary>
/// Three captures open at once: what leaves c0 towards fw0, what arrives on s0 and what arrives on k0. So a
/// test sees where each frame the client sent went, and that it went nowhere else. Open it before sending.
/// </summary>
public sealed class LabWatch : IDisposable
{
    /// <summary>How long every point must stay silent before <see cref="Settle"/> returns, unless told otherwise:
    /// longer than the gaps within one exchange (a TCP close, a reply), so the exchange is over.</summary>
    public static readonly TimeSpan DefaultQuietFor = TimeSpan.FromMilliseconds(150);

    private static readonly TimeSpan SettleWithin = TimeSpan.FromSeconds(10);
    private readonly LiveCapture[] _captures;

    internal LabWatch(Lab lab)
    {
        var open = new List<LiveCapture>();
        try
        {
            open.Add(lab.CaptureClientSent());
            open.Add(lab.CaptureServer());
            open.Add(lab.CaptureSink());
        }
        catch
        {
            foreach (var c in open)
                c.Dispose();
            throw;
        }
        _captures = [.. open];
    }

    /// <summary>
    /// Everything seen since the watch was opened (or since the last call), once c0, s0 and k0 have all been
    /// silent for <paramref name="quietFor"/>.
    /// </summary>
    public Seen Settle(TimeSpan? quietFor = null)
    {
        var q = quietFor ?? DefaultQuietFor;
        var got = LiveCapture.CollectUntilQuiet(_captures, q, SettleWithin)
            ?? throw new LabException($"{_captures[0].Namespace}: traffic still under way after {SettleWithin.TotalSeconds:0} s");
        return new Seen(got[0], got[1], got[2]);
    }

    public void Dispose()
    {
        foreach (var c in _captures)
            c.Dispose();
    }
}
