using System.Buffers.Binary;
using System.Diagnostics;
using Fw.Bpf;
using Fw.Packets;

namespace Fw.Tests.Packets;

/// <summary>
/// Capture files read through libpcap: classic pcap in every byte order and timestamp precision, pcapng (written
/// by hand and by Wireshark's editcap), files tcpdump wrote, the checked descriptor read whatever the path
/// names afterwards, and clear refusals naming the file and the packet.
/// </summary>
public sealed class PcapSourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly byte[][] Frames =
    [
        PacketSpec.Parse("tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn").Build(),
        PacketSpec.Parse("vlan 10 vlan 20 udp [2001:db8::1]:5353 -> [2001:db8::2]:53 len 30").Build(),
        PacketSpec.Parse("arp 192.0.2.1 -> 192.0.2.2").Build(),
    ];

    private static readonly DateTime T0 = new(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    /// <summary>A classic pcap file written by hand: any magic, byte order and link type.</summary>
    private static byte[] Pcap(bool bigEndian, bool nano, uint linkType = 1, IEnumerable<(byte[] Data, int Original, uint Fraction)>? records = null,
        ushort major = 2)
    {
        var ms = new MemoryStream();
        void W32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            if (bigEndian)
                BinaryPrimitives.WriteUInt32BigEndian(b, v);
            else
                BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            ms.Write(b);
        }
        void W16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            if (bigEndian)
                BinaryPrimitives.WriteUInt16BigEndian(b, v);
            else
                BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            ms.Write(b);
        }
        W32(nano ? 0xa1b23c4du : 0xa1b2c3d4u);
        W16(major);
        W16(4);
        W32(0);
        W32(0);
        W32(65535);
        W32(linkType);
        uint seconds = (uint)(T0 - DateTime.UnixEpoch).TotalSeconds;
        foreach (var (data, original, fraction) in records ?? [])
        {
            W32(seconds);
            W32(fraction);
            W32((uint)data.Length);
            W32((uint)original);
            ms.Write(data);
        }
        return ms.ToArray();
    }

    private static IEnumerable<(byte[], int, uint)> Records(uint fractionStep) =>
        Frames.Select((f, i) => (f, f.Length, (uint)(i + 1) * fractionStep));

    /// <summary>
    /// A pcapng file written by hand (little-endian): a section header, one Ethernet interface with
    /// <paramref name="tsresol"/> (if_tsresol: 6 µs, 9 ns) and one enhanced packet block per record.
    /// </summary>
    private static byte[] Pcapng(byte tsresol, IEnumerable<(byte[] Data, int Original, ulong Ticks)> records, ushort linkType = 1)
    {
        var ms = new MemoryStream();
        void Block(uint type, byte[] body)
        {
            int padded = (body.Length + 3) & ~3;
            uint total = (uint)(12 + padded);
            var b = new byte[total];
            BinaryPrimitives.WriteUInt32LittleEndian(b, type);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), total);
            body.CopyTo(b, 8);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)total - 4), total);
            ms.Write(b);
        }
        var shb = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(shb, 0x1a2b3c4d);     // byte-order magic
        BinaryPrimitives.WriteUInt16LittleEndian(shb.AsSpan(4), 1);    // version 1.0
        BinaryPrimitives.WriteInt64LittleEndian(shb.AsSpan(8), -1);    // section length unknown
        Block(0x0a0d0d0a, shb);
        var idb = new byte[8 + 8 + 4];
        BinaryPrimitives.WriteUInt16LittleEndian(idb, linkType);
        BinaryPrimitives.WriteUInt32LittleEndian(idb.AsSpan(4), 262144);
        idb[8] = 9;                                                     // if_tsresol, 1 byte
        idb[10] = 1;
        idb[12] = tsresol;                                              // then padding, then opt_endofopt
        Block(1, idb);
        foreach (var (data, original, ticks) in records)
        {
            var epb = new byte[20 + data.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(4), (uint)(ticks >> 32));
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(8), (uint)ticks);
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(12), (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(16), (uint)original);
            data.CopyTo(epb, 20);
            Block(6, epb);
        }
        return ms.ToArray();
    }

    [Theory]
    [InlineData(PcapPrecision.Microseconds)]
    [InlineData(PcapPrecision.Nanoseconds)]
    public void ReadsWhatPcapSinkWrites(PcapPrecision precision)
    {
        string file = Path("w.pcap");
        using (var w = PcapSink.Create(file, precision))
        {
            for (int i = 0; i < Frames.Length; i++)
                w.Write(Frames[i], T0.AddMilliseconds(i * 1.5).AddTicks(i));
        }
        using var r = PcapSource.Open(file);
        var packets = r.ReadAll().ToList();
        Assert.Equal(Frames.Length, packets.Count);
        for (int i = 0; i < Frames.Length; i++)
        {
            Assert.Equal(i + 1, packets[i].Number);
            Assert.Equal(Frames[i], packets[i].Data);
            Assert.Equal(Frames[i].Length, packets[i].OriginalLength);
            Assert.False(packets[i].Snapped);
            // 100 ns ticks survive a nanosecond file; a microsecond file keeps whole microseconds.
            var t = T0.AddMilliseconds(i * 1.5).AddTicks(i);
            Assert.Equal(precision == PcapPrecision.Nanoseconds ? t : t.AddTicks(-(t.Ticks % 10)), packets[i].Timestamp);
        }
        Assert.Equal(Frames.Length, r.Count);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void BothByteOrdersBothPrecisions(bool bigEndian, bool nano)
    {
        // Fractions of 123,456,700 ns or 123,456 µs: the same instant plus 0.1234567 s (or 0.123456 s) per record.
        uint step = nano ? 123_456_700u : 123_456u;
        string file = Path("h.pcap");
        File.WriteAllBytes(file, Pcap(bigEndian, nano, records: Records(step)));
        var packets = PcapSource.ReadFile(file);
        Assert.Equal(Frames, packets.Select(p => p.Data));
        for (int i = 0; i < packets.Count; i++)
        {
            long ticks = nano ? (i + 1) * 1_234_567L : (i + 1) * 1_234_560L;
            Assert.Equal(T0.AddTicks(ticks), packets[i].Timestamp);
        }
    }

    [Theory]
    [InlineData(9)]
    [InlineData(6)]
    public void ReadsPcapng(byte tsresol)
    {
        // T0 plus 1.2345678 s per record, in the interface's unit; the second record snapped at 40 bytes.
        ulong unit = tsresol == 9 ? 1_000_000_000UL : 1_000_000UL;
        ulong t0 = (ulong)(T0 - DateTime.UnixEpoch).TotalSeconds * unit;
        var records = Frames.Select((f, i) => (i == 1 ? f[..40] : f, f.Length, t0 + (ulong)(i + 1) * (tsresol == 9 ? 1_234_567_800UL : 1_234_567UL))).ToList();
        string file = Path("hand.pcapng");
        File.WriteAllBytes(file, Pcapng(tsresol, records));
        var packets = PcapSource.ReadFile(file);
        Assert.Equal(3, packets.Count);
        Assert.Equal(Frames[0], packets[0].Data);
        Assert.Equal(Frames[1][..40], packets[1].Data);
        Assert.Equal(Frames[1].Length, packets[1].OriginalLength);
        Assert.True(packets[1].Snapped);
        Assert.Equal(Frames[2], packets[2].Data);
        for (int i = 0; i < packets.Count; i++)
            Assert.Equal(T0.AddTicks((i + 1) * (tsresol == 9 ? 12_345_678L : 12_345_670L)), packets[i].Timestamp);
    }

    [Fact]
    public void ReadsWhatEditcapConvertsToPcapng()
    {
        string ours = Path("ours.pcap"), ng = Path("theirs.pcapng");
        PcapSink.WriteFile(ours, Frames);
        var (exit, err) = RunTool("editcap", "-F", "pcapng", ours, ng);
        Assert.True(exit == 0, err);
        Assert.Equal([0x0a, 0x0d, 0x0d, 0x0a], File.ReadAllBytes(ng)[..4]);
        var packets = PcapSource.ReadFile(ng);
        Assert.Equal(Frames, packets.Select(p => p.Data));
        Assert.Equal(PcapSource.ReadFile(ours).Select(p => p.Timestamp), packets.Select(p => p.Timestamp));
    }

    private static (int Exit, string Err) RunTool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err);
    }

    [Theory]
    [InlineData("--micro")]
    [InlineData("--nano")]
    public void ReadsWhatTcpdumpWrites(string precision)
    {
        string ours = Path("ours.pcap"), theirs = Path("theirs.pcap");
        PcapSink.WriteFile(ours, Frames);
        var (exit, err) = RunTool("tcpdump", "-r", ours, precision, "-w", theirs);
        Assert.True(exit == 0, err);
        Assert.Equal(precision == "--nano" ? 0xa1b23c4du : 0xa1b2c3d4u, BitConverter.ToUInt32(File.ReadAllBytes(theirs)));
        Assert.Equal(Frames, PcapSource.ReadFile(theirs).Select(p => p.Data));
    }

    [Fact]
    public void SnappedRecordsKeepTheirOriginalLength()
    {
        var big = PacketSpec.Parse("udp 198.51.100.7:1 -> 192.0.2.10:2 len 1000").Build();
        string file = Path("snap.pcap");
        File.WriteAllBytes(file, Pcap(false, false, records: [(big[..96], big.Length, 0)]));
        var p = Assert.Single(PcapSource.ReadFile(file));
        Assert.Equal(96, p.Data.Length);
        Assert.Equal(big.Length, p.OriginalLength);
        Assert.True(p.Snapped);
    }

    [Fact]
    public void CutsAFrameCheckSequenceTheHeaderDeclares()
    {
        var withFcs = Frames[0].Concat(new byte[] { 0xde, 0xad, 0xbe, 0xef }).ToArray();
        uint linkType = 1 | 0x04000000 | 2u << 28;   // Ethernet, FCS length present: 2 x 16 bits
        string file = Path("fcs.pcap");
        File.WriteAllBytes(file, Pcap(false, false, linkType, [(withFcs, withFcs.Length, 0)]));
        var p = Assert.Single(PcapSource.ReadFile(file));
        Assert.Equal(Frames[0], p.Data);
        Assert.False(p.Snapped);
    }

    [Fact]
    public void AnEmptyCaptureHasNoPackets()
    {
        string file = Path("none.pcap");
        File.WriteAllBytes(file, Pcap(true, true));
        Assert.Empty(PcapSource.ReadFile(file));
        File.WriteAllBytes(file, Pcapng(9, []));
        Assert.Empty(PcapSource.ReadFile(file));
    }

    /// <summary>
    /// libpcap opens the descriptor that was checked, not the path again: the file put at the path afterwards
    /// (here a capture of other frames; a FIFO or a device would do as well) is not what is read.
    /// </summary>
    [Fact]
    public void ReadsTheDescriptorThatWasCheckedNotThePathAgain()
    {
        string file = Path("swap.pcap"), other = Path("other.pcap");
        PcapSink.WriteFile(file, [Frames[0]]);
        PcapSink.WriteFile(other, [Frames[1], Frames[2]]);
        using var checkedFile = RegularFile.OpenRead(file);
        File.Move(other, file, overwrite: true);
        using var source = PcapSource.Open(checkedFile, file);
        checkedFile.Dispose();
        Assert.Equal([Frames[0]], source.ReadAll().Select(p => p.Data));
    }

    /// <summary>what → the message after "FILE: " (ours exactly), and libpcap's own words in it, if any.</summary>
    public static readonly TheoryData<string, string, string?> Refusals = new()
    {
        { "empty", "empty file, not a pcap file", null },
        { "short", "truncated dump file; tried to read 24 file header bytes, only got 6", "truncated dump file" },
        { "text", "not a pcap or pcapng file (libpcap: unknown file format)", null },
        { "sll", "link type 113 (LINUX_SLL, tcpdump -i any) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1); capture on one interface (tcpdump -i eth0), not -i any", null },
        { "sll2 pcapng", "link type 276 (LINUX_SLL2, tcpdump -i any) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1); capture on one interface (tcpdump -i eth0), not -i any", null },
        { "raw", "link type 101 (RAW, IP without a link layer) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1)", null },
        { "version", "unsupported pcap savefile version 3.4", "version 3.4" },
        { "cut header", "packet 2: truncated dump file; tried to read 16 header bytes, only got 5", "truncated" },
        { "cut data", "packet 1: truncated dump file; tried to read 54 captured bytes, only got 20", "truncated" },
        { "huge", "packet 1: invalid packet capture length 4294967295, bigger than snaplen of 65535", "4294967295" },
        { "cut pcapng", "packet 1: truncated pcapng dump file; tried to read 80 bytes, only got 20", "truncated" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusesWithAClearError(string what, string message, string? libpcapWords)
    {
        byte[] good = Pcap(false, false, records: Records(0).Take(1));
        byte[] ng = Pcapng(9, [(Frames[0], Frames[0].Length, 0)]);
        byte[] bytes = what switch
        {
            "empty" => [],
            "short" => good[..10],
            "text" => "root:x:0:0:root:/root:/bin/bash\n"u8.ToArray(),
            "sll" => Pcap(false, false, 113),
            "sll2 pcapng" => Pcapng(9, [], linkType: 276),
            "raw" => Pcap(true, false, 101),
            "version" => Pcap(false, false, major: 3),
            "cut header" => [.. good, 1, 2, 3, 4, 5],
            "cut data" => good[..(24 + 16 + 20)],
            "huge" => [.. good[..32], 0xff, 0xff, 0xff, 0xff, .. good[36..]],
            "cut pcapng" => ng[..^60],
            _ => throw new ArgumentException(what),
        };
        string file = Path("bad.pcap");
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<PcapFormatException>(() => PcapSource.ReadFile(file));
        if (libpcapWords is null)
        {
            Assert.Equal($"{file}: {message}", e.Message);
        }
        else
        {
            // libpcap's text may change with its version: our part exactly, theirs by its key words.
            string ours = message.StartsWith("packet ") ? $"{file}: {message[..(message.IndexOf(':') + 2)]}" : $"{file}: ";
            Assert.StartsWith(ours, e.Message);
            Assert.Contains(libpcapWords, e.Message);
        }
    }
}
