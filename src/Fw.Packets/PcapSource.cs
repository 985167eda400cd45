using Fw.Bpf;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fw.Packets;

/// <summary>A capture file that cannot be read as Ethernet frames: the message says which file, where and why.</summary>
public sealed class PcapFormatException(string message) : Exception(message);

/// <summary>One captured frame. <paramref name="Number"/> is 1-based, as tcpdump and Wireshark count.</summary>
/// <param name="OriginalLength">The frame's length on the wire; more than <c>Data.Length</c> when the capture cut it (snaplen).</param>
public sealed record PcapPacket(int Number, DateTime Timestamp, byte[] Data, int OriginalLength)
{
    public bool Snapped => OriginalLength > Data.Length;
}

/// <summary>
/// A capture file read by libpcap, through SharpPcap's <see cref="CaptureFileReaderDevice"/>: classic pcap (either
/// byte order, micro- or nanosecond timestamps) and pcapng, Ethernet link type only. Regular files only: the file
/// is opened and checked first (<see cref="RegularFile.OpenRead"/>: no FIFO, no device, nothing that blocks), and
/// libpcap, which opens by name, is given the name of that descriptor (<c>/proc/self/fd/N</c>), so it reads the
/// file that was checked even if the path names another by then. A frame check sequence that a classic header
/// declares (LT_FCS_LENGTH) is cut off. libpcap's own errors (a truncated record, a corrupt length, an unknown
/// format) come out as <see cref="PcapFormatException"/> naming the file and the packet.
/// </summary>
public sealed class PcapSource : IDisposable
{
    public const int LinkTypeEthernet = 1;
    private const int DltRaw = 12, LinkTypeRaw = 101;

    private readonly CaptureFileReaderDevice _device;
    private readonly int _fcsBytes;
    private int _count;

    private PcapSource(CaptureFileReaderDevice device, string name, long length, int fcsBytes)
    {
        _device = device;
        Name = name;
        Length = length;
        _fcsBytes = fcsBytes;
    }

    /// <summary>The file's name as given, in every message.</summary>
    public string Name { get; }

    /// <summary>The file's size in bytes when it was opened.</summary>
    public long Length { get; }

    /// <summary>Frames read so far.</summary>
    public int Count => _count;

    /// <summary>Opens <paramref name="path"/> (<see cref="RegularFile.OpenRead"/>) and reads its header (a pcapng file's first blocks).</summary>
    /// <exception cref="PcapFormatException">Not a pcap or pcapng file, or not Ethernet frames.</exception>
    /// <exception cref="NotRegularFileException">A FIFO, a device, a directory: not read.</exception>
    /// <exception cref="BpfException">It cannot be opened (errno: ENOENT, EACCES, ...).</exception>
    public static PcapSource Open(string path)
    {
        using var file = RegularFile.OpenRead(path);
        return Open(file, path);
    }

    /// <summary>
    /// Reads the capture in <paramref name="file"/>, a descriptor <see cref="RegularFile.OpenRead"/> opened and
    /// checked (so a caller can bound its size first). libpcap opens its own descriptor of the same file: the
    /// stream may be closed once this returns.
    /// </summary>
    /// <param name="name">The file's name in messages.</param>
    /// <exception cref="PcapFormatException">Not a pcap or pcapng file, or not Ethernet frames.</exception>
    public static PcapSource Open(FileStream file, string name)
    {
        long length = file.Length;
        if (length == 0)
            throw new PcapFormatException($"{name}: empty file, not a pcap file");
        var device = new CaptureFileReaderDevice($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}");
        try
        {
            try
            {
                device.Open(new DeviceConfiguration { TimestampResolution = TimestampResolution.Nanosecond });
            }
            catch (PcapException e)
            {
                throw new PcapFormatException($"{name}: {OpenError(e.Message)}");
            }
            // libpcap reports DLT_ values; they are the file's LINKTYPE_ values but for raw IP (DLT_RAW is 12 on Linux).
            int dlt = (int)device.LinkType;
            int linkType = dlt == DltRaw ? LinkTypeRaw : dlt;
            if (linkType != LinkTypeEthernet)
            {
                throw new PcapFormatException($"{name}: link type {linkType} ({LinkTypeName(linkType)}) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1)"
                    + (linkType is 113 or 276 ? "; capture on one interface (tcpdump -i eth0), not -i any" : ""));
            }
            return new PcapSource(device, name, length, FcsBytes(device));
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Every frame of the file at <paramref name="path"/>.</summary>
    public static IReadOnlyList<PcapPacket> ReadFile(string path)
    {
        using var source = Open(path);
        return source.ReadAll().ToList();
    }

    public IEnumerable<PcapPacket> ReadAll()
    {
        while (Read() is { } p)
            yield return p;
    }

    /// <summary>The next frame, or null at the end of the file.</summary>
    /// <exception cref="PcapFormatException">The record cannot be read (truncated, an implausible length).</exception>
    public PcapPacket? Read()
    {
        var status = _device.GetNextPacket(out var e);
        if (status == GetPacketStatus.NoRemainingPackets)
            return null;
        if (status != GetPacketStatus.PacketRead)
            throw new PcapFormatException($"{Name}: packet {_count + 1}: {_device.LastError}");
        var header = (PcapHeader)e.Header;
        byte[] data = e.Data.ToArray();
        int original = (int)Math.Min(header.PacketLength, int.MaxValue);
        if (_fcsBytes > 0 && data.Length == original && data.Length >= _fcsBytes)
        {
            data = data[..^_fcsBytes];
            original -= _fcsBytes;
        }
        _count++;
        return new PcapPacket(_count, header.Timeval.Date, data, Math.Max(original, data.Length));
    }

    public void Dispose() => _device.Dispose();

    /// <summary>libpcap's words without SharpPcap's prefix; the one that says nothing of pcap made plain.</summary>
    private static string OpenError(string message)
    {
        const string Prefix = "Unable to open offline adapter: ";
        string m = message.StartsWith(Prefix, StringComparison.Ordinal) ? message[Prefix.Length..] : message;
        return m == "unknown file format" ? "not a pcap or pcapng file (libpcap: unknown file format)" : m;
    }

    /// <summary>The FCS length a classic header's link-type field declares (LT_FCS_LENGTH_PRESENT, in 16-bit units).</summary>
    private static int FcsBytes(CaptureFileReaderDevice device)
    {
        bool added = false;
        try
        {
            device.Handle.DangerousAddRef(ref added);
            uint ext = (uint)Interop.pcap_datalink_ext(device.Handle.DangerousGetHandle());
            return (ext & 0x04000000) != 0 ? (int)(ext >> 28) * 2 : 0;
        }
        finally
        {
            if (added)
                device.Handle.DangerousRelease();
        }
    }

    private static string LinkTypeName(int linkType) => linkType switch
    {
        0 => "NULL, BSD loopback",
        101 => "RAW, IP without a link layer",
        105 => "IEEE802_11",
        108 => "LOOP, OpenBSD loopback",
        113 => "LINUX_SLL, tcpdump -i any",
        127 => "IEEE802_11_RADIOTAP",
        228 => "IPV4",
        229 => "IPV6",
        276 => "LINUX_SLL2, tcpdump -i any",
        _ => "see https://www.tcpdump.org/linktypes.html",
    };
}
