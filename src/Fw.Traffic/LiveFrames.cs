using System.Runtime.InteropServices;
using Fw.Kernel;

namespace Fw.Traffic;

/// <summary>
/// A field the generator varies per packet: <see cref="Width"/> (2 or 4) bytes at <see cref="Offset"/>,
/// read big-endian; the bits of <see cref="Mask"/> are replaced by hashed ones, the rest stay as the
/// template has them (a port range 32768-65535 is mask 0x7fff over a template port with bit 15 set).
/// </summary>
public readonly record struct VaryField(int Offset, int Width, uint Mask)
{
    public const int MaxFields = 4;

    /// <summary>The low <paramref name="bits"/> bits of a 4-byte field (e.g. the host part of an address).</summary>
    public static VaryField Low32(int offset, int bits) => new(offset, 4, bits >= 32 ? uint.MaxValue : (1u << bits) - 1);

    /// <summary>The low <paramref name="bits"/> bits of a 2-byte field (a port).</summary>
    public static VaryField Low16(int offset, int bits) => new(offset, 2, (1u << bits) - 1);
}

/// <summary>
/// One BPF_PROG_RUN call: frames sent, wall-clock time (setup and teardown included), and the kernel's time
/// in its send loop (ns per frame x frames; the receiving end's NAPI on this CPU included, time scheduled out
/// not): on a busy machine the kernel's time is the one to divide by.
/// </summary>
public readonly record struct LiveRun(int Frames, TimeSpan Elapsed, double KernelNs);

/// <summary>
/// Sends real frames through a veth pair with BPF_PROG_RUN in live-frames mode
/// (BPF_F_TEST_XDP_LIVE_FRAMES), as xdp-trafficgen does: each repetition is transmitted (XDP_TX) out
/// of <c>iface</c> and arrives at its peer, where the XDP program under test runs on it. The peer
/// must have an XDP program attached (veth's rule for receiving XDP frames). The frames go out on the
/// calling thread's CPU (pin it with <see cref="PinThisThread"/>), in the calling thread's network
/// namespace; the peer's NAPI runs on that CPU too, after each batch.
/// </summary>
public sealed class LiveFrames : IDisposable
{
    private readonly BpfObject _obj;
    private readonly int _progFd;

    /// <param name="vary">Fields rewritten per packet (at most <see cref="VaryField.MaxFields"/>); none: every frame is the template.</param>
    public LiveFrames(IReadOnlyList<VaryField>? vary = null)
    {
        vary ??= [];
        if (vary.Count > VaryField.MaxFields)
            throw new ArgumentException($"at most {VaryField.MaxFields} varied fields", nameof(vary));
        foreach (var f in vary)
        {
            if (f.Width is not (2 or 4) || f.Offset is < 0 or > 255 - 4)
                throw new ArgumentException($"varied field at {f.Offset} ({f.Width} bytes): width 2 or 4, offset 0-251", nameof(vary));
        }
        _obj = BpfObject.Open(Path.Combine(AppContext.BaseDirectory, "bpf", "fw_trafficgen.bpf.o"));
        try
        {
            var table = default(FieldTable);
            for (int i = 0; i < vary.Count; i++)
                table[i] = new Field { Off = (uint)vary[i].Offset, Width = (uint)vary[i].Width, Mask = vary[i].Mask };
            _obj.SetGlobal("tg_fields", table);
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
    public LiveRun Send(string iface, ReadOnlySpan<byte> frame, int count, int batchSize = 64) =>
        Send(Firewall.Ifindex(iface), frame, count, batchSize);

    /// <summary>As <see cref="Send(string, ReadOnlySpan{byte}, int, int)"/>, by ifindex (of the calling thread's namespace).</summary>
    public LiveRun Send(int ifindex, ReadOnlySpan<byte> frame, int count, int batchSize = 64)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        uint nsPerFrame = BpfObject.TestRunLive(_progFd, frame, ifindex, count, batchSize);
        return new LiveRun(count, started.Elapsed, (double)nsPerFrame * count);
    }

    /// <summary>Pins the calling thread to one CPU (sched_setaffinity); the generator sends from there.</summary>
    public static unsafe void PinThisThread(int cpu)
    {
        if (cpu is < 0 or >= 64)
            throw new ArgumentOutOfRangeException(nameof(cpu), cpu, "CPU 0-63");
        ulong mask = 1UL << cpu;
        if (Interop.sched_setaffinity(0, sizeof(ulong), &mask) != 0)
            throw new BpfException($"pin the generator thread to CPU {cpu} (sched_setaffinity)", Marshal.GetLastPInvokeError());
    }

    /// <summary>The CPU the calling thread runs on.</summary>
    public static int CurrentCpu => Interop.sched_getcpu();

    public void Dispose() => _obj.Dispose();

    /// <summary>struct tg_field in fw_trafficgen.bpf.c.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Field
    {
        public uint Off;
        public uint Width;
        public uint Mask;
        public uint Pad;
    }

    /// <summary>tg_fields[VaryField.MaxFields].</summary>
    [System.Runtime.CompilerServices.InlineArray(VaryField.MaxFields)]
    private struct FieldTable
    {
        private Field _f;
    }
}
