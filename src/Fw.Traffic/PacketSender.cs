using System.Runtime.InteropServices;
using Fw.Bpf;

namespace Fw.Traffic;

/// <summary>What one <see cref="PacketSender.Send(ReadOnlySpan{byte}, IReadOnlyList{VaryField}, long, CancellationToken)"/> did.</summary>
/// <param name="Frames">Frames the kernel took from the ring and transmitted.</param>
/// <param name="Refused">Of those, frames the interface refused (the send call said ENOBUFS: the peer's ring was full or it is down).</param>
/// <param name="Elapsed">Wall-clock time of the call.</param>
/// <param name="CpuNs">The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over the call. On a veth the
/// receiving end's softirq runs on the sending thread after each frame, so this is the whole path's cost.</param>
public readonly record struct SendResult(long Frames, long Refused, TimeSpan Elapsed, long CpuNs);

/// <summary>
/// Writes frames from user space into one interface through an AF_PACKET socket with a TPACKET_V2 TX ring and
/// (by default) PACKET_QDISC_BYPASS, as netsniff-ng's trafgen does: frames are written into the ring (the template copied and
/// its <see cref="VaryField"/>s rewritten per frame), handed to the kernel in batches by one send() each, and go
/// straight to the driver (no qdisc). On a veth pair they arrive at the peer, whose XDP program (if any) runs on
/// the sending CPU: each frame's queue is the sending CPU modulo the interface's queue count, and that queue's
/// NAPI runs in the softirq at the end of each transmit.
/// <para>The socket is created in the calling thread's network namespace and bound to the interface with
/// protocol 0 (it receives nothing); sends may come from any thread after that, one at a time.</para>
/// <para>Raw AF_PACKET and not SharpPcap (which the lab and the pcap files use): libpcap's pcap_sendpacket is one
/// send(2) per frame through the qdisc layer, while the benchmark needs a TX ring that hands the kernel hundreds of
/// frames per call with PACKET_QDISC_BYPASS, or it measures the sender rather than the program.</para>
/// </summary>
public sealed unsafe class PacketSender : IDisposable
{
    // struct tpacket2_hdr: tp_status (u32) first, tp_len (u32) next; frame data follows at
    // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) = TPACKET_ALIGN(32) + 20 - 20 for TX.
    private const int HeaderLength = 32;
    /// <summary>The shortest frame: the kernel pads one shorter than the link header (root only), as for send().</summary>
    public const int MinFrame = 1;

    private const uint StatusAvailable = 0, StatusSendRequest = 1, StatusSending = 2, StatusWrongFormat = 4;

    private readonly int _fd;
    private readonly byte* _ring;
    private readonly nuint _ringBytes;
    private readonly int _frameSize;
    private readonly int _frames;
    private readonly int _perBlock;
    private readonly int _blockSize;
    private int _next;
    private ulong _seq;
    private bool _disposed;

    /// <param name="iface">The interface to send out of, in the calling thread's namespace.</param>
    /// <param name="maxFrame">The longest frame this sender will send (bytes, Ethernet header included, no FCS).</param>
    /// <param name="ringFrames">Frames in the ring; one send() hands over at most this many.</param>
    /// <param name="seed">Where the varied fields' sequence starts (two senders with different seeds send different frames).</param>
    /// <param name="bypassQdisc">PACKET_QDISC_BYPASS: frames go straight to the driver, the fastest way, but packet
    /// taps on the sending interface (tcpdump, the lab's captures of what left) do not see them. False: through
    /// dev_queue_xmit, as any sent frame.</param>
    public PacketSender(string iface, int maxFrame = 1514, int ringFrames = 512, ulong seed = 0, bool bypassQdisc = true)
        : this(IfindexOf(iface), maxFrame, ringFrames, seed, bypassQdisc, iface)
    {
    }

    /// <summary>As the other constructor, by ifindex (of the calling thread's namespace).</summary>
    public PacketSender(int ifindex, int maxFrame = 1514, int ringFrames = 512, ulong seed = 0, bool bypassQdisc = true, string? name = null)
    {
        if (maxFrame is < MinFrame or > 9216)
            throw new ArgumentOutOfRangeException(nameof(maxFrame), maxFrame, "1-9,216 bytes");
        if (ringFrames is < 1 or > 65536)
            throw new ArgumentOutOfRangeException(nameof(ringFrames), ringFrames, "1-65,536 frames");
        Interface = name ?? $"ifindex {ifindex}";
        _frameSize = (HeaderLength + maxFrame + 15) & ~15;                    // TPACKET_ALIGNMENT
        int perBlock = Math.Max(1, Environment.SystemPageSize * 16 / _frameSize);
        int blockSize = (perBlock * _frameSize + Environment.SystemPageSize - 1) / Environment.SystemPageSize * Environment.SystemPageSize;
        int blocks = (ringFrames + perBlock - 1) / perBlock;
        _frames = blocks * perBlock;
        _perBlock = perBlock;
        _blockSize = blockSize;
        MaxFrame = maxFrame;
        _seq = seed;

        _fd = Interop.socket(Interop.AfPacket, Interop.SockRaw | Interop.SockCloexec, 0);
        if (_fd < 0)
            throw new BpfException("open an AF_PACKET socket", Marshal.GetLastPInvokeError());
        try
        {
            SetInt(Interop.PacketVersion, Interop.Tpacket2, "PACKET_VERSION TPACKET_V2");
            if (bypassQdisc)
                SetInt(Interop.PacketQdiscBypass, 1, "PACKET_QDISC_BYPASS");
            var req = new Interop.TpacketReq { BlockSize = (uint)blockSize, BlockNr = (uint)blocks, FrameSize = (uint)_frameSize, FrameNr = (uint)_frames };
            if (Interop.setsockopt(_fd, Interop.SolPacket, Interop.PacketTxRing, &req, (uint)sizeof(Interop.TpacketReq)) != 0)
                throw new BpfException($"set up a TX ring of {_frames} frames", Marshal.GetLastPInvokeError());
            _ringBytes = (nuint)blockSize * (nuint)blocks;
            _ring = (byte*)Interop.mmap(null, _ringBytes, Interop.ProtRead | Interop.ProtWrite, Interop.MapShared, _fd, 0);
            if (_ring == (byte*)-1)
                throw new BpfException("map the TX ring", Marshal.GetLastPInvokeError());
            var addr = new Interop.SockaddrLl { Family = Interop.AfPacket, Protocol = 0, Ifindex = ifindex };
            if (Interop.bind(_fd, addr, sizeof(Interop.SockaddrLl)) != 0)
                throw new BpfException($"bind to {Interface}", Marshal.GetLastPInvokeError());
        }
        catch
        {
            if (_ring != null && _ring != (byte*)-1)
                Interop.munmap(_ring, _ringBytes);
            Interop.close(_fd);
            throw;
        }
    }

    public string Interface { get; }

    public int MaxFrame { get; }

    /// <summary>Frames in the ring (at least what was asked for, rounded up to whole blocks).</summary>
    public int RingFrames => _frames;

    /// <summary>Sends one frame as it is.</summary>
    public SendResult Send(ReadOnlySpan<byte> frame) => Send(frame, [], 1);

    /// <summary>
    /// Sends <paramref name="count"/> frames made from <paramref name="template"/>, each with its varied fields
    /// rewritten (<see cref="VaryField.Apply"/>, continuing this sender's sequence), in batches of the ring's
    /// size; returns when all were transmitted or <paramref name="stop"/> was cancelled (between batches).
    /// </summary>
    public SendResult Send(ReadOnlySpan<byte> template, IReadOnlyList<VaryField> vary, long count, CancellationToken stop = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (template.Length < MinFrame || template.Length > MaxFrame)
            throw new ArgumentException($"frame of {template.Length} bytes: {MinFrame}-{MaxFrame}", nameof(template));
        VaryField.Validate(vary, template.Length);
        long cpu0 = ThreadCpuNs();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        long done = 0, refused = 0;
        while (done < count && !stop.IsCancellationRequested)
        {
            int batch = (int)Math.Min(count - done, _frames);
            for (int i = 0; i < batch; i++)
            {
                byte* slot = Slot(_next);
                uint status = Volatile.Read(ref *(uint*)slot);
                if (status != StatusAvailable)
                    throw new InvalidOperationException($"send on {Interface}: ring slot {_next} not free (status {status})");
                var data = new Span<byte>(slot + HeaderLength, template.Length);
                template.CopyTo(data);
                if (vary.Count > 0)
                    VaryField.Apply(data, vary, _seq);
                _seq++;
                *(uint*)(slot + 4) = (uint)template.Length;                    // tp_len
                Volatile.Write(ref *(uint*)slot, StatusSendRequest);
                _next = _next + 1 == _frames ? 0 : _next + 1;
            }
            refused += Flush();
            done += batch;
        }
        return new SendResult(done, refused, wall.Elapsed, ThreadCpuNs() - cpu0);
    }

    /// <summary>
    /// Hands every requested frame to the kernel (a blocking send returns once all were transmitted and freed).
    /// A frame the device refuses makes send() fail with ENOBUFS and stop there: send again for the rest.
    /// Returns the number of refusals.
    /// </summary>
    private long Flush()
    {
        long refused = 0;
        for (int spins = 0; ; spins++)
        {
            nint r = Interop.send(_fd, null, 0, 0);
            int errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (r < 0 && errno is not (Interop.Enobufs or Interop.Eagain or Interop.Eintr))
                throw new BpfException($"send on {Interface}", errno);
            if (errno == Interop.Enobufs)
                refused++;
            if (Pending() == 0)
                return refused;
            if (spins > 100_000)
                throw new TimeoutException($"send on {Interface}: the kernel did not take the ring's frames ({Pending()} of {_frames} still pending, statuses {string.Join(",", Enumerable.Range(0, _frames).Select(i => *(uint*)Slot(i)).Distinct())})");
            if (spins > 16)
                Thread.Yield();
        }
    }

    /// <summary>Frame <paramref name="i"/> of the ring: frames do not cross blocks, and a block may end in unused bytes.</summary>
    private byte* Slot(int i) => _ring + (long)(i / _perBlock) * _blockSize + (long)(i % _perBlock) * _frameSize;

    /// <summary>Frames still requested or being sent; a frame of the wrong format is an error.</summary>
    private int Pending()
    {
        int pending = 0;
        for (int i = 0; i < _frames; i++)
        {
            uint status = Volatile.Read(ref *(uint*)Slot(i));
            if ((status & StatusWrongFormat) != 0)
                throw new InvalidOperationException($"send on {Interface}: the kernel refused frame {i} of the ring as malformed");
            if ((status & (StatusSendRequest | StatusSending)) != 0)
                pending++;
        }
        return pending;
    }

    private void SetInt(int name, int value, string what)
    {
        if (Interop.setsockopt(_fd, Interop.SolPacket, name, &value, sizeof(int)) != 0)
            throw new BpfException($"set {what}", Marshal.GetLastPInvokeError());
    }

    private static int IfindexOf(string iface)
    {
        uint i = Interop.if_nametoindex(iface);
        return i != 0 ? (int)i : throw new BpfException($"find interface {iface}", Marshal.GetLastPInvokeError());
    }

    /// <summary>The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID).</summary>
    public static long ThreadCpuNs()
    {
        if (Interop.clock_gettime(Interop.ClockThreadCputimeId, out var ts) != 0)
            throw new BpfException("read the thread's CPU clock", Marshal.GetLastPInvokeError());
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }

    /// <summary>Pins the calling thread to one CPU (sched_setaffinity).</summary>
    public static void PinThisThread(int cpu)
    {
        if (cpu is < 0 or >= 64)
            throw new ArgumentOutOfRangeException(nameof(cpu), cpu, "CPU 0-63");
        ulong mask = 1UL << cpu;
        if (Interop.sched_setaffinity(0, sizeof(ulong), &mask) != 0)
            throw new BpfException($"pin the sending thread to CPU {cpu}", Marshal.GetLastPInvokeError());
    }

    /// <summary>The CPU the calling thread runs on.</summary>
    public static int CurrentCpu => Interop.sched_getcpu();

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Interop.munmap(_ring, _ringBytes);
        Interop.close(_fd);
    }
}
