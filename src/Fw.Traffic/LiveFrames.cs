using System.Runtime.InteropServices;
using Fw.Kernel;

namespace Fw.Traffic;

/// <summary>
/// Sends real frames through a veth pair with BPF_PROG_RUN in live-frames mode
/// (BPF_F_TEST_XDP_LIVE_FRAMES), as xdp-trafficgen does: each repetition is transmitted (XDP_TX) out
/// of <c>iface</c> and arrives at its peer, where the XDP program under test runs on it. The peer
/// must have an XDP program attached (veth's rule for receiving XDP frames).
/// </summary>
public sealed class LiveFrames : IDisposable
{
    private readonly BpfObject _obj;
    private readonly int _progFd;

    /// <param name="vary">Rewrite the IPv4 source's low 16 bits and the L4 source port per packet.</param>
    /// <param name="srcOffset">Offset of the IPv4 source address in the frames (with vary).</param>
    /// <param name="sportOffset">Offset of the L4 source port in the frames (with vary).</param>
    public LiveFrames(bool vary = false, int srcOffset = 0, int sportOffset = 0)
    {
        _obj = BpfObject.Open(Path.Combine(AppContext.BaseDirectory, "bpf", "fw_trafficgen.bpf.o"));
        try
        {
            _obj.SetGlobal("tg_vary", vary ? 1u : 0u);
            _obj.SetGlobal("tg_src_off", (uint)srcOffset);
            _obj.SetGlobal("tg_sport_off", (uint)sportOffset);
            _obj.Load();
            _progFd = _obj.ProgramFd("fw_trafficgen");
        }
        catch
        {
            _obj.Dispose();
            throw;
        }
    }

    /// <summary>Transmits <paramref name="count"/> copies of the frame out of iface; blocks until sent.</summary>
    /// <returns>How long the kernel took.</returns>
    public TimeSpan Send(string iface, ReadOnlySpan<byte> frame, int count, int batchSize = 64)
    {
        int ifindex = Firewall.Ifindex(iface);
        var started = System.Diagnostics.Stopwatch.StartNew();
        BpfObject.TestRunLive(_progFd, frame, ifindex, count, batchSize);
        return started.Elapsed;
    }

    public void Dispose() => _obj.Dispose();
}
