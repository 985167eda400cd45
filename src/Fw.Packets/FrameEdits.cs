namespace Fw.Packets;

/// <summary>
/// The one place that writes frame bytes by hand: what PacketDotNet, which builds the rest
/// (<see cref="Frame.ToPacket"/>), cannot express. In this order:
/// <list type="number">
/// <item>The IPv6 extension chain (PacketDotNet builds no extension header): spliced in after the fixed header,
/// which then names the first header; the last names what the fixed header named; the payload length grows by the
/// chain. Transport checksums do not change (the pseudo-header holds neither).</item>
/// <item>The headers' override fields: a wrong version, IHL, total or payload length, protocol, next header, data
/// offset or UDP length. Each is written and the checksum that covers it adjusted (RFC 1624), so the checksum
/// stays right unless it is overridden too.</item>
/// <item>The checksum overrides, as given.</item>
/// <item>Truncation.</item>
/// </list>
/// </summary>
internal static class FrameEdits
{
    public static FrameLayout Apply(Frame f, byte[] built)
    {
        int l2End = 14 + 4 * f.Vlans.Count;
        int network = f.Network is null ? -1 : l2End;
        int networkEnd = f.Network is null ? l2End : network + f.Network.HeaderLength;
        int transport = f.Transport is null ? -1 : networkEnd;
        int payload = f.Transport is null ? networkEnd : transport + f.Transport.HeaderLength;

        byte[] b = built;
        if (f.Network is Ipv6Header { Extensions.Count: > 0 } chained)
            b = SpliceChain(b, network, chained.Extensions);
        if (b.Length != payload + f.Payload.Length)
            throw new InvalidOperationException($"PacketDotNet built {b.Length} bytes where the layout has {payload + f.Payload.Length}");

        switch (f.Network)
        {
            case Ipv4Header v4:
                if (v4.Version != 4 || v4.Ihl is not null)
                    SetByte(b, network, (byte)((v4.Version & 0xf) << 4 | (v4.Ihl ?? v4.HeaderLength / 4) & 0xf), network, network + 10);
                if (v4.TotalLength is ushort totalLength)
                    SetWord(b, network + 2, totalLength, network, network + 10);
                if (v4.Protocol is byte protocol && f.Transport is not null)   // without one, PacketDotNet wrote it
                    SetByte(b, network + 9, protocol, network, network + 10);
                if (v4.Checksum is ushort ipChecksum)
                    Bytes.WriteBe16(b, network + 10, ipChecksum);
                break;
            case Ipv6Header v6:
                if (v6.Version != 6)
                    b[network] = (byte)((v6.Version & 0xf) << 4 | b[network] & 0x0f);
                if (v6.PayloadLength is ushort payloadLength)
                    Bytes.WriteBe16(b, network + 4, payloadLength);
                if (v6.NextHeader is byte next)
                    b[network + 6] = next;
                break;
        }

        switch (f.Transport)
        {
            case TcpHeader tcp:
                if (tcp.DataOffset is int dataOffset)
                    SetByte(b, transport + 12, (byte)(dataOffset << 4), transport, transport + 16);
                if (tcp.Checksum is ushort tcpChecksum)
                    Bytes.WriteBe16(b, transport + 16, tcpChecksum);
                break;
            case UdpHeader udp:
                if (udp.Length is ushort length)
                    SetWord(b, transport + 4, length, transport, transport + 6, udp: true);
                if (udp.Checksum is ushort udpChecksum)
                    Bytes.WriteBe16(b, transport + 6, udpChecksum);
                break;
            case IcmpHeader { Checksum: ushort icmpChecksum }:
                Bytes.WriteBe16(b, transport + 2, icmpChecksum);
                break;
        }

        int fullLength = b.Length;
        if (f.TruncateTo is int n)
            b = b[..Math.Clamp(n, 0, b.Length)];
        return new FrameLayout(b, fullLength, l2End, network, transport, payload);
    }

    /// <summary>The chain after the fixed IPv6 header at <paramref name="at"/>: a new array, longer by the chain.</summary>
    static byte[] SpliceChain(byte[] b, int at, IReadOnlyList<Ipv6Ext> chain)
    {
        int size = chain.Sum(e => e.Size);
        var r = new byte[b.Length + size];
        b.AsSpan(0, at + 40).CopyTo(r);
        byte last = b[at + 6];   // what PacketDotNet's header names: the transport, or the protocol after the chain
        int cur = at + 40;
        for (int i = 0; i < chain.Count; i++)
        {
            var e = chain[i];
            r[cur] = e.NextHeader ?? (i + 1 < chain.Count ? chain[i + 1].Type : last);
            r[cur + 1] = e.LengthField ?? e.WellFormedLength;
            e.Data.CopyTo(r, cur + 2);
            cur += e.Size;
        }
        b.AsSpan(at + 40).CopyTo(r.AsSpan(cur));
        r[at + 6] = chain[0].Type;
        Bytes.WriteBe16(r, at + 4, (ushort)(Bytes.ReadBe16(r, at + 4) + size));
        return r;
    }

    static void SetByte(byte[] b, int at, byte value, int headerStart, int checksumAt)
    {
        int word = headerStart + ((at - headerStart) & ~1);
        ushort old = Bytes.ReadBe16(b, word);
        b[at] = value;
        Adjust(b, checksumAt, old, Bytes.ReadBe16(b, word), udp: false);
    }

    static void SetWord(byte[] b, int at, ushort value, int headerStart, int checksumAt, bool udp = false)
    {
        if ((at - headerStart) % 2 != 0)
            throw new ArgumentException("a 16-bit field at an odd offset of its header", nameof(at));
        ushort old = Bytes.ReadBe16(b, at);
        Bytes.WriteBe16(b, at, value);
        Adjust(b, checksumAt, old, value, udp);
    }

    /// <summary>RFC 1624 (3): HC' = ~(~HC + ~m + m'), for one 16-bit word of the sum changed from m to m'.</summary>
    static void Adjust(byte[] b, int checksumAt, ushort old, ushort now, bool udp)
    {
        uint sum = (uint)(ushort)~Bytes.ReadBe16(b, checksumAt) + (ushort)~old + now;
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        ushort checksum = (ushort)~sum;
        if (udp && checksum == 0)
            checksum = 0xffff;   // RFC 768: 0 means "no checksum"
        Bytes.WriteBe16(b, checksumAt, checksum);
    }
}
