using System.Buffers.Binary;

namespace Fw.Packets;

/// <summary>A pcap file that cannot be read as Ethernet frames: the message says which file, where and why.</summary>
public sealed class PcapFormatException(string message) : Exception(message);

/// <summary>One captured frame. <paramref name="Number"/> is 1-based, as tcpdump and Wireshark count.</summary>
/// <param name="OriginalLength">The frame's length on the wire; more than <c>Data.Length</c> when the capture cut it (snaplen).</param>
public sealed record PcapPacket(int Number, DateTime Timestamp, byte[] Data, int OriginalLength)
{
    public bool Snapped => OriginalLength > Data.Length;
}

/// <summary>
/// Reads the classic libpcap format (the draft-ietf-opsawg-pcap file header and packet records): both byte
/// orders, microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d) timestamps, LINKTYPE_ETHERNET only. A
/// frame check sequence the header declares is cut off. pcapng and other link types are refused with a
/// message that says how to convert.
/// </summary>
public sealed class PcapReader : IDisposable
{
    public const uint LinkTypeEthernet = 1;
    /// <summary>Larger records are refused as corrupt (libpcap's own bound is 256 KiB, its maximum snaplen).</summary>
    public const int MaxRecordLength = 256 * 1024;

    const uint MagicMicro = 0xa1b2c3d4, MagicNano = 0xa1b23c4d, MagicPcapng = 0x0a0d0d0a;

    readonly Stream _stream;
    readonly bool _ownsStream;
    readonly string _name;
    readonly int _fcsBytes;
    long _offset = 24;
    int _count;

    /// <param name="name">The file's name in error messages.</param>
    public PcapReader(Stream stream, string name = "pcap", bool ownsStream = false)
    {
        _stream = stream;
        _ownsStream = ownsStream;
        _name = name;
        Span<byte> h = stackalloc byte[24];
        int got = ReadFully(h);
        if (got >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(h) == MagicPcapng)
            throw Fail($"{name}: a pcapng file; only classic pcap is read (convert it: tcpdump -r {name} -w out.pcap)");
        if (got < 24)
            throw Fail(got == 0 ? $"{name}: empty file, not a pcap file" : $"{name}: not a pcap file (the header needs 24 bytes, the file has {got})");
        uint le = BinaryPrimitives.ReadUInt32LittleEndian(h);
        uint be = BinaryPrimitives.ReadUInt32BigEndian(h);
        if (le is MagicMicro or MagicNano)
            BigEndian = false;
        else if (be is MagicMicro or MagicNano)
            BigEndian = true;
        else
            throw Fail($"{name}: not a pcap file (magic 0x{be:x8}; pcap starts with a1b2c3d4 or a1b23c4d in either byte order)");
        Nanoseconds = (BigEndian ? be : le) == MagicNano;
        VersionMajor = U16(h[4..]);
        VersionMinor = U16(h[6..]);
        if (VersionMajor != 2)
            throw Fail($"{name}: pcap version {VersionMajor}.{VersionMinor} is not supported (2.x is)");
        SnapLength = U32(h[16..]);
        uint linkField = U32(h[20..]);
        LinkType = linkField & 0x03ffffff;                           // libpcap LT_LINKTYPE
        if ((linkField & 0x04000000) != 0)                             // LT_FCS_LENGTH_PRESENT
            _fcsBytes = (int)(linkField >> 28) * 2;                    // LT_FCS_LENGTH, in 16-bit units
        if (LinkType != LinkTypeEthernet)
            throw Fail($"{name}: link type {LinkType} ({LinkTypeName(LinkType)}) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1)"
                + (LinkType is 113 or 276 ? "; capture on one interface (tcpdump -i eth0), not -i any" : ""));
    }

    public static PcapReader Open(string path) =>
        new(File.OpenRead(path), path, ownsStream: true);

    /// <summary>Every frame of the file at <paramref name="path"/>.</summary>
    public static IReadOnlyList<PcapPacket> ReadFile(string path)
    {
        using var r = Open(path);
        return r.ReadAll().ToList();
    }

    public bool BigEndian { get; }
    public bool Nanoseconds { get; }
    public ushort VersionMajor { get; }
    public ushort VersionMinor { get; }
    public uint SnapLength { get; }
    public uint LinkType { get; }

    public IEnumerable<PcapPacket> ReadAll()
    {
        while (Read() is { } p)
            yield return p;
    }

    /// <summary>The next frame, or null at the end of the file.</summary>
    public PcapPacket? Read()
    {
        var h = new byte[16];
        int got = ReadFully(h);
        if (got == 0)
            return null;
        int number = _count + 1;
        if (got < 16)
            throw Fail($"{_name}: packet {number} at byte {_offset}: the record header is cut short ({got} of 16 bytes; truncated file?)");
        uint seconds = U32(h), fraction = U32(h.AsSpan(4)), captured = U32(h.AsSpan(8)), original = U32(h.AsSpan(12));
        if (captured > MaxRecordLength)
            throw Fail($"{_name}: packet {number} at byte {_offset}: captured length {captured} is implausible (corrupt file?)");
        var data = new byte[captured];
        got = ReadFully(data);
        if (got < captured)
            throw Fail($"{_name}: packet {number} at byte {_offset}: {captured} bytes captured, only {got} in the file (truncated file?)");
        _offset += 16 + captured;
        _count = number;
        long ticks = Nanoseconds ? fraction / 100 : fraction * 10L;
        var time = DateTime.UnixEpoch.AddSeconds(seconds).AddTicks(ticks);
        int originalLength = (int)Math.Min(original, int.MaxValue);
        if (_fcsBytes > 0 && data.Length == originalLength && data.Length >= _fcsBytes)
        {
            data = data[..^_fcsBytes];
            originalLength -= _fcsBytes;
        }
        return new PcapPacket(number, time, data, Math.Max(originalLength, data.Length));
    }

    public void Dispose()
    {
        if (_ownsStream)
            _stream.Dispose();
    }

    int ReadFully(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = _stream.Read(buffer[total..]);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    ushort U16(ReadOnlySpan<byte> b) => BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    uint U32(ReadOnlySpan<byte> b) => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    PcapFormatException Fail(string message)
    {
        if (_ownsStream)
            _stream.Dispose();
        return new PcapFormatException(message);
    }

    static string LinkTypeName(uint linkType) => linkType switch
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
