using System.Net;

namespace Fw.Packets;

// The layers a test frame is made of, as plain records. Every field a test may want wrong has a
// nullable override: null means "write the correct value" (lengths, checksums, protocol numbers).
// Frame.Build writes them: PacketDotNet builds the well-formed frame (Frame.ToPacket), and FrameEdits
// writes what PacketDotNet cannot express (the overrides, IPv6 extension chains, truncation).

/// <summary>TCP header byte 13. The same bit order as <see cref="Fw.Rules.TcpFlagsMatch"/>.</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800, Arp = 0x0806, Vlan = 0x8100, Ipv6 = 0x86dd, QinQ = 0x88a8, Lldp = 0x88cc;
}

public static class IpProtocols
{
    public const byte HopByHop = 0, Icmp = 1, Tcp = 6, Udp = 17, Routing = 43, Fragment = 44, Ah = 51,
        IcmpV6 = 58, NoNext = 59, DestOptions = 60;
}

/// <summary>An 802.1Q (0x8100) or 802.1ad (0x88a8) tag. <paramref name="Tpid"/> is the EtherType that announces it.</summary>
public readonly record struct VlanTag(ushort Id, ushort Tpid = EtherTypes.Vlan, byte Priority = 0);

public abstract record NetworkHeader
{
    /// <summary>The header's length in bytes as built (IPv4 with its options padded, IPv6 with its extension chain).</summary>
    internal abstract int HeaderLength { get; }
}

public sealed record Ipv4Header(IPAddress Src, IPAddress Dst) : NetworkHeader
{
    public byte Tos { get; init; }
    public ushort Id { get; init; } = 1;
    public bool DontFragment { get; init; }
    public bool MoreFragments { get; init; }
    /// <summary>In 8-byte units, 13 bits.</summary>
    public ushort FragmentOffset { get; init; }
    public byte Ttl { get; init; } = 64;
    /// <summary>null: taken from the transport header (tcp 6, udp 17, icmp 1, icmpv6 58).</summary>
    public byte? Protocol { get; init; }
    /// <summary>Option bytes; padded with zeros (end of options) to a multiple of 4.</summary>
    public byte[] Options { get; init; } = [];
    /// <summary>Overrides the IHL nibble (0-15); the option bytes are written regardless.</summary>
    public int? Ihl { get; init; }
    public int Version { get; init; } = 4;
    public ushort? TotalLength { get; init; }
    public ushort? Checksum { get; init; }

    internal override int HeaderLength => 20 + (Options.Length + 3) / 4 * 4;
}

public sealed record Ipv6Header(IPAddress Src, IPAddress Dst) : NetworkHeader
{
    public byte TrafficClass { get; init; }
    public uint FlowLabel { get; init; }
    public byte HopLimit { get; init; } = 64;
    /// <summary>The extension headers, in order, between this header and the transport header.</summary>
    public IReadOnlyList<Ipv6Ext> Extensions { get; init; } = [];
    /// <summary>null: the first extension's type, else the transport protocol.</summary>
    public byte? NextHeader { get; init; }
    /// <summary>The protocol after the chain when there is no transport header; null: 59 (no next header).</summary>
    public byte? Protocol { get; init; }
    public int Version { get; init; } = 6;
    public ushort? PayloadLength { get; init; }

    internal override int HeaderLength => 40 + Extensions.Sum(e => e.Size);
}

/// <summary>
/// One IPv6 extension header: its type, and the bytes after its first two (next header and length;
/// for a fragment header, next header and the reserved byte). The factories build well-formed ones;
/// <see cref="LengthField"/> and <see cref="NextHeader"/> make wrong ones. PacketDotNet builds no extension
/// header, so these are bytes from the start, spliced in by <see cref="FrameEdits"/>.
/// </summary>
public sealed record Ipv6Ext(byte Type, byte[] Data)
{
    /// <summary>null: the next extension's type or the final protocol.</summary>
    public byte? NextHeader { get; init; }
    /// <summary>null: computed from the size ((len+1)*8, AH (len+2)*4, fragment 0 reserved).</summary>
    public byte? LengthField { get; init; }

    public int Size => 2 + Data.Length;

    /// <summary>Hop-by-hop options, <paramref name="size"/> bytes in all (a multiple of 8), filled with padding options.</summary>
    public static Ipv6Ext HopByHop(int size = 8) => new(IpProtocols.HopByHop, PadOptions(size));

    public static Ipv6Ext DestOptions(int size = 8) => new(IpProtocols.DestOptions, PadOptions(size));

    /// <summary>
    /// A routing header with no addresses and segments left 0, so the destination is the final one and checksums
    /// hold. Type 0 by default (deprecated by RFC 5095, still parsed: tcpdump then checks the checksum).
    /// </summary>
    public static Ipv6Ext Routing(int size = 8, byte routingType = 0)
    {
        if (size < 8 || size % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(size), "a multiple of 8, at least 8");
        var data = new byte[size - 2];
        data[0] = routingType;
        return new(IpProtocols.Routing, data);
    }

    /// <param name="offset">In 8-byte units, 13 bits.</param>
    public static Ipv6Ext Fragment(ushort offset, bool more = false, uint id = 0x1234)
    {
        var data = new byte[6];
        Bytes.WriteBe16(data, 0, (ushort)((offset & 0x1fff) << 3 | (more ? 1 : 0)));
        Bytes.WriteBe32(data, 2, id);
        return new(IpProtocols.Fragment, data);
    }

    /// <summary>An authentication header with an ICV of <paramref name="icvBytes"/> (a multiple of 4).</summary>
    public static Ipv6Ext Ah(int icvBytes = 12, uint spi = 0x100, uint sequence = 1)
    {
        if (icvBytes < 0 || icvBytes % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(icvBytes), "a multiple of 4");
        var data = new byte[10 + icvBytes];
        Bytes.WriteBe32(data, 2, spi);
        Bytes.WriteBe32(data, 6, sequence);
        for (int i = 0; i < icvBytes; i++)
            data[10 + i] = (byte)(0xa0 + i);
        return new(IpProtocols.Ah, data);
    }

    /// <summary>The length byte a well-formed header carries: (len + 1) * 8 bytes, AH (len + 2) * 4, fragment 0 (reserved).</summary>
    internal byte WellFormedLength => Type switch
    {
        IpProtocols.Fragment => 0,
        IpProtocols.Ah => (byte)(Size / 4 - 2),
        _ => (byte)(Size / 8 - 1),
    };

    static byte[] PadOptions(int size)
    {
        if (size < 8 || size % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(size), "a multiple of 8, at least 8");
        var data = new byte[size - 2];
        // PadN: type 1, length, zeros (RFC 8200 4.2), at most 257 bytes each: as many as the size takes (the
        // longest header, 2,048 bytes, takes eight), none left one byte short.
        for (int at = 0; at < data.Length;)
        {
            int n = Math.Min(data.Length - at, 257);
            if (data.Length - at - n == 1)
                n--;
            data[at] = 1;
            data[at + 1] = (byte)(n - 2);
            at += n;
        }
        return data;
    }
}

public abstract record TransportHeader
{
    /// <summary>The protocol number the network header announces for this header.</summary>
    public abstract byte Protocol { get; }

    /// <summary>The header's length in bytes as built (TCP: with its options padded).</summary>
    internal abstract int HeaderLength { get; }
}

public sealed record TcpHeader(ushort SrcPort, ushort DstPort, TcpFlags Flags) : TransportHeader
{
    public uint Sequence { get; init; } = 1000;
    public uint Acknowledgment { get; init; }
    public ushort Window { get; init; } = 65535;
    public ushort Urgent { get; init; }
    /// <summary>Option bytes; padded with zeros (end of options) to a multiple of 4.</summary>
    public byte[] Options { get; init; } = [];
    /// <summary>Overrides the data offset nibble (0-15).</summary>
    public int? DataOffset { get; init; }
    public ushort? Checksum { get; init; }

    public override byte Protocol => IpProtocols.Tcp;

    internal override int HeaderLength => 20 + (Options.Length + 3) / 4 * 4;
}

public sealed record UdpHeader(ushort SrcPort, ushort DstPort) : TransportHeader
{
    public ushort? Length { get; init; }
    public ushort? Checksum { get; init; }

    public override byte Protocol => IpProtocols.Udp;

    internal override int HeaderLength => 8;
}

/// <summary>
/// ICMP (<paramref name="V6"/> false, protocol 1) or ICMPv6 (true, protocol 58). The checksum covers a
/// pseudo-header only for ICMPv6 inside IPv6, as on the wire; ICMPv6 inside IPv4 (an oddity) gets ICMP's.
/// </summary>
public sealed record IcmpHeader(byte Type, byte Code, bool V6) : TransportHeader
{
    /// <summary>The header's last 4 bytes (echo: identifier and sequence).</summary>
    public uint Rest { get; init; } = 0x00010001;
    public ushort? Checksum { get; init; }

    public override byte Protocol => V6 ? IpProtocols.IcmpV6 : IpProtocols.Icmp;

    internal override int HeaderLength => 8;
}

/// <summary>The RFC 1071 one's-complement sum.</summary>
public static class InternetChecksum
{
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length)
            sum += (uint)(data[i] << 8);
        return sum;
    }

    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0)
    {
        uint sum = Sum(data, initial);
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>True when data (checksum field included) sums to 0xffff: the checksum is right.</summary>
    public static bool Verify(ReadOnlySpan<byte> data, uint initial = 0) => Compute(data, initial) == 0;
}

internal static class Bytes
{
    public static void WriteBe16(Span<byte> b, int at, ushort v)
    {
        b[at] = (byte)(v >> 8);
        b[at + 1] = (byte)v;
    }

    public static void WriteBe32(Span<byte> b, int at, uint v)
    {
        b[at] = (byte)(v >> 24);
        b[at + 1] = (byte)(v >> 16);
        b[at + 2] = (byte)(v >> 8);
        b[at + 3] = (byte)v;
    }

    public static ushort ReadBe16(ReadOnlySpan<byte> b, int at) => (ushort)(b[at] << 8 | b[at + 1]);

    public static uint ReadBe32(ReadOnlySpan<byte> b, int at) =>
        (uint)(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]);
}
