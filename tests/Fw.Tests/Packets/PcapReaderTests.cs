using System.Buffers.Binary;
using System.Diagnostics;
using Fw.Packets;

namespace Fw.Tests.Packets;

/// <summary>The classic pcap reader: every byte order and timestamp precision, files tcpdump wrote, and clear refusals.</summary>
public sealed class PcapReaderTests : IDisposable
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

    [Fact]
    public void ReadsWhatPcapWriterWrites()
    {
        string file = Path("w.pcap");
        using (var w = PcapWriter.Create(file))
        {
            for (int i = 0; i < Frames.Length; i++)
                w.Write(Frames[i], T0.AddMilliseconds(i * 1.5));
        }
        using var r = PcapReader.Open(file);
        Assert.False(r.BigEndian);
        Assert.False(r.Nanoseconds);
        Assert.Equal(PcapReader.LinkTypeEthernet, r.LinkType);
        var packets = r.ReadAll().ToList();
        Assert.Equal(Frames.Length, packets.Count);
        for (int i = 0; i < Frames.Length; i++)
        {
            Assert.Equal(i + 1, packets[i].Number);
            Assert.Equal(Frames[i], packets[i].Data);
            Assert.Equal(Frames[i].Length, packets[i].OriginalLength);
            Assert.False(packets[i].Snapped);
            Assert.Equal(T0.AddMilliseconds(i * 1.5), packets[i].Timestamp);
        }
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
        using var r = PcapReader.Open(file);
        Assert.Equal(bigEndian, r.BigEndian);
        Assert.Equal(nano, r.Nanoseconds);
        var packets = r.ReadAll().ToList();
        Assert.Equal(Frames, packets.Select(p => p.Data));
        for (int i = 0; i < packets.Count; i++)
        {
            long ticks = nano ? (i + 1) * 1_234_567L : (i + 1) * 1_234_560L;
            Assert.Equal(T0.AddTicks(ticks), packets[i].Timestamp);
        }
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
    [InlineData("--micro", false)]
    [InlineData("--nano", true)]
    public void ReadsWhatTcpdumpWrites(string precision, bool nano)
    {
        string ours = Path("ours.pcap"), theirs = Path("theirs.pcap");
        PcapWriter.WriteFile(ours, Frames);
        var (exit, err) = RunTool("tcpdump", "-r", ours, precision, "-w", theirs);
        Assert.True(exit == 0, err);
        using var r = PcapReader.Open(theirs);
        Assert.Equal(nano, r.Nanoseconds);
        Assert.Equal(Frames, r.ReadAll().Select(p => p.Data));
    }

    [Fact]
    public void SnappedRecordsKeepTheirOriginalLength()
    {
        var big = PacketSpec.Parse("udp 198.51.100.7:1 -> 192.0.2.10:2 len 1000").Build();
        string file = Path("snap.pcap");
        File.WriteAllBytes(file, Pcap(false, false, records: [(big[..96], big.Length, 0)]));
        var p = Assert.Single(PcapReader.ReadFile(file));
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
        var p = Assert.Single(PcapReader.ReadFile(file));
        Assert.Equal(Frames[0], p.Data);
        Assert.False(p.Snapped);
    }

    [Fact]
    public void AnEmptyCaptureHasNoPackets()
    {
        string file = Path("none.pcap");
        File.WriteAllBytes(file, Pcap(true, true));
        Assert.Empty(PcapReader.ReadFile(file));
    }

    public static readonly TheoryData<string, string> Refusals = new()
    {
        { "empty", "empty file, not a pcap file" },
        { "short", "not a pcap file (the header needs 24 bytes, the file has 10)" },
        { "text", "not a pcap file (magic 0x726f6f74; pcap starts with a1b2c3d4 or a1b23c4d in either byte order)" },
        { "pcapng", "a pcapng file; only classic pcap is read (convert it: tcpdump -r {file} -w out.pcap)" },
        { "sll", "link type 113 (LINUX_SLL, tcpdump -i any) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1); capture on one interface (tcpdump -i eth0), not -i any" },
        { "raw", "link type 101 (RAW, IP without a link layer) is not supported; fwctl test needs Ethernet frames (LINKTYPE_ETHERNET, 1)" },
        { "version", "pcap version 3.4 is not supported (2.x is)" },
        { "cut header", "packet 2 at byte 94: the record header is cut short (5 of 16 bytes; truncated file?)" },
        { "cut data", "packet 1 at byte 24: 54 bytes captured, only 20 in the file (truncated file?)" },
        { "huge", "packet 1 at byte 24: captured length 4294967295 is implausible (corrupt file?)" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusesWithAClearError(string what, string message)
    {
        byte[] good = Pcap(false, false, records: Records(0).Take(1));
        byte[] bytes = what switch
        {
            "empty" => [],
            "short" => good[..10],
            "text" => "root:x:0:0:root:/root:/bin/bash\n"u8.ToArray(),
            "pcapng" => [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1c, 0, 0, 0],
            "sll" => Pcap(false, false, 113),
            "raw" => Pcap(true, false, 101),
            "version" => Pcap(false, false, major: 3),
            "cut header" => [.. good, 1, 2, 3, 4, 5],
            "cut data" => good[..(24 + 16 + 20)],
            "huge" => [.. good[..32], 0xff, 0xff, 0xff, 0xff, .. good[36..]],
            _ => throw new ArgumentException(what),
        };
        string file = Path("bad.pcap");
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<PcapFormatException>(() => PcapReader.ReadFile(file));
        Assert.Equal($"{file}: {message.Replace("{file}", file)}", e.Message);
    }
}
