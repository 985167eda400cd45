using System.Diagnostics;
using Fw.Bpf;
using Fw.Packets;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fw.Lab;

/// <summary>A frame a capture saw, with its parse and the kernel's timestamp of it.</summary>
public sealed record CapturedFrame(byte[] Bytes, DateTime At)
{
    public ParsedFrame Parsed { get; } = FrameParser.Parse(Bytes);

    public override string ToString() => Parsed.ToString();
}

/// <summary>Which frames a <see cref="LiveCapture"/> receives.</summary>
public enum CaptureDirection
{
    /// <summary>Frames that arrive on the interface.</summary>
    Arriving,

    /// <summary>Frames the interface's own namespace sends out of it (its sockets, other captures' injections).</summary>
    Leaving,
}

/// <summary>
/// A libpcap capture (SharpPcap's <see cref="LibPcapLiveDevice"/>) on one interface of one namespace, opened on a
/// thread that has entered the namespace (<see cref="Netns.Run{T}"/>): libpcap finds the interface and binds its
/// socket there, and the handle keeps that namespace when used from any thread afterwards. <see cref="Receive"/>
/// returns the frames that arrived on the interface (or, opened with <see cref="CaptureDirection.Leaving"/>,
/// those that left it; never the ones this capture sent itself), in order, from the moment it was opened;
/// <see cref="Send"/> puts a raw Ethernet frame on the wire as it is (pcap_sendpacket: what sockets cannot make:
/// any flags, fragments, tags, broken headers). Every wait is bounded.
/// <para>
/// The direction is libpcap's pcap_setdirection (declared in Fw.Bpf: SharpPcap lacks it), which tests each
/// frame's packet type as it comes off the ring. Not the <c>inbound</c>/<c>outbound</c> filters: libpcap runs the
/// first frame after a filter is set through its own BPF interpreter, which cannot read the packet type, and so
/// loses it. libpcap refuses to open a capture on an interface that is down (PCAP_ERROR_IFACE_NOT_UP).
/// </para>
/// </summary>
public sealed class LiveCapture : IDisposable
{
    /// <summary>tcpdump's classic -s 0: whole frames, GRO's merged ones too.</summary>
    private const int Snaplen = 65535;

    /// <summary>The ring: 8 MiB, over a hundred whole frames between two reads (libpcap's default is 2 MiB).</summary>
    private const int RingBytes = 8 << 20;

    private readonly Device _device;

    private LiveCapture(Device device, Netns ns, string iface, CaptureDirection direction)
    {
        _device = device;
        Namespace = ns;
        Interface = iface;
        Direction = direction;
    }

    public Netns Namespace { get; }
    public string Interface { get; }
    public CaptureDirection Direction { get; }

    /// <summary>Opens a capture of <paramref name="iface"/> inside <paramref name="ns"/>, every protocol, in <paramref name="direction"/>.</summary>
    /// <exception cref="LabException">There is no such interface in the namespace, it is down, or libpcap failed.</exception>
    public static LiveCapture Open(Netns ns, string iface, CaptureDirection direction = CaptureDirection.Arriving) =>
        new(OpenDevice(ns, iface, Snaplen, RingBytes, direction == CaptureDirection.Leaving ? Interop.PcapDOut : Interop.PcapDIn), ns, iface, direction);

    /// <summary>
    /// Puts <paramref name="frames"/> on <paramref name="iface"/> of <paramref name="ns"/>, in order, through a
    /// capture handle opened for it (pcap_sendpacket: one send(2) each on its AF_PACKET socket, through the qdisc
    /// layer, so captures on the interface see them leave).
    /// </summary>
    /// <exception cref="LabException">The interface refused a frame (ENOBUFS: its peer's queue is full; EMSGSIZE).</exception>
    public static void Inject(Netns ns, string iface, IEnumerable<byte[]> frames)
    {
        // A small ring, and what comes in is dropped by a kernel filter that takes nothing: the handle only sends.
        using var device = OpenDevice(ns, iface, 64, 1 << 16, null);
        device.Filter = "less 0";
        foreach (var f in frames)
            Send(device, ns, iface, f);
    }

    public void Send(ReadOnlySpan<byte> frame) => Send(_device, Namespace, Interface, frame);

    public void Send(Frame frame) => Send(frame.Build());

    /// <summary>The next frame that arrives within <paramref name="timeout"/>, or null.</summary>
    public CapturedFrame? Receive(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            int left = (int)Math.Ceiling(Math.Max(0, (timeout - sw.Elapsed).TotalMilliseconds));
            if (!_device.WaitReadable(left))
                return null;
            var status = _device.GetNextPacket(out var e);
            if (status == GetPacketStatus.PacketRead)
                return new CapturedFrame(e.Data.ToArray(), ((PcapHeader)e.Header).Timeval.Date);
            if (status != GetPacketStatus.ReadTimeout)
                throw new LabException($"{Namespace}: capture on {Interface}", _device.LastError);
            if (sw.Elapsed >= timeout)
                return null;
        }
    }

    /// <summary>The first frame that <paramref name="match"/> accepts within <paramref name="timeout"/>, or null.</summary>
    public CapturedFrame? WaitFor(Func<CapturedFrame, bool> match, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            var f = Receive(timeout - sw.Elapsed);
            if (f is null)
                return null;
            if (match(f))
                return f;
        }
        return null;
    }

    /// <summary>Every frame that arrives during <paramref name="duration"/> (and <paramref name="match"/> accepts).</summary>
    public List<CapturedFrame> Collect(TimeSpan duration, Func<CapturedFrame, bool>? match = null)
    {
        var sw = Stopwatch.StartNew();
        var got = new List<CapturedFrame>();
        while (sw.Elapsed < duration)
        {
            var f = Receive(duration - sw.Elapsed);
            if (f is null)
                break;
            if (match is null || match(f))
                got.Add(f);
        }
        return got;
    }

    /// <summary>
    /// Every frame each of <paramref name="captures"/> receives until none has received one for
    /// <paramref name="quietFor"/>, one list per capture; null when they were still busy after
    /// <paramref name="within"/>.
    /// </summary>
    public static List<CapturedFrame>[]? CollectUntilQuiet(IReadOnlyList<LiveCapture> captures, TimeSpan quietFor, TimeSpan within)
    {
        var got = captures.Select(_ => new List<CapturedFrame>()).ToArray();
        var sw = Stopwatch.StartNew();
        var lastSeen = TimeSpan.Zero;
        while (sw.Elapsed - lastSeen < quietFor)
        {
            if (sw.Elapsed > within)
                return null;
            for (int i = 0; i < captures.Count; i++)
            {
                while (captures[i].Receive(TimeSpan.Zero) is { } f)
                {
                    got[i].Add(f);
                    lastSeen = sw.Elapsed;
                }
            }
            Thread.Sleep(10);
        }
        return got;
    }

    public void Dispose() => _device.Dispose();

    /// <summary>
    /// Opens and activates the device inside <paramref name="ns"/>. The interface is looked up there afresh
    /// (pcap_findalldevs lists the calling thread's namespace; SharpPcap's cached <c>LibPcapLiveDeviceList.Instance</c>
    /// would hold the first namespace's list).
    /// </summary>
    private static Device OpenDevice(Netns ns, string iface, int snaplen, int ringBytes, int? direction) => ns.Run(() =>
    {
        PcapInterface? found;
        try
        {
            found = PcapInterface.GetAllPcapInterfaces().FirstOrDefault(i => i.Name == iface);
        }
        catch (PcapException e)
        {
            throw new LabException($"{ns}: list the interfaces", e.Message);
        }
        if (found is null)
            throw new LabException($"{ns}: capture on {iface}", "no such interface in the namespace");
        var device = new Device(found);
        try
        {
            // Immediate: each frame is handed over as it arrives (libpcap uses TPACKET_V2 then, no block timeout).
            device.Open(new DeviceConfiguration { Snaplen = snaplen, BufferSize = ringBytes, Immediate = true, ReadTimeout = 100 });
            if (direction is { } d && !SetDirection(device, d))
                throw new LabException($"{ns}: capture on {iface}: pcap_setdirection", device.LastError);
            device.NonBlockingMode = true;
            return device;
        }
        catch (PcapException e)
        {
            device.Dispose();
            throw new LabException($"{ns}: capture on {iface}", e.Error == PcapError.InterfaceNotUp ? "the interface is down (libpcap opens no capture on a down link)" : e.Message);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    });

    private static bool SetDirection(Device device, int direction)
    {
        bool added = false;
        try
        {
            device.Handle.DangerousAddRef(ref added);
            return Interop.pcap_setdirection(device.Handle.DangerousGetHandle(), direction) == 0;
        }
        finally
        {
            if (added)
                device.Handle.DangerousRelease();
        }
    }

    private static void Send(Device device, Netns ns, string iface, ReadOnlySpan<byte> frame)
    {
        try
        {
            device.SendPacket(frame);
        }
        catch (PcapException e)
        {
            throw new LabException($"{ns}: send a {frame.Length}-byte frame on {iface}", e.Message);
        }
    }

    /// <summary>SharpPcap's live device with its poll(2) in reach: GetNextPacket alone would wait up to 500 ms for a frame.</summary>
    private sealed class Device(PcapInterface pcapInterface) : LibPcapLiveDevice(pcapInterface)
    {
        public bool WaitReadable(int milliseconds) => PollFileDescriptor(milliseconds);
    }
}
