using System.Diagnostics;
using System.IO.Pipes;
using Fw.Bpf;
using Fw.Packets;

namespace Fw.Tests.Packets;

/// <summary>
/// The pcap writer fwctl log uses: the classic header and records byte for byte (micro- and nanosecond), snaplen
/// and original length, files tcpdump and tshark read back, every record flushed as it is written (a reader at
/// the other end of a pipe sees it while the writer is still open), and the path rules: regular files only,
/// never written through a symbolic link.
/// </summary>
public sealed class PcapSinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-pcapsink-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    private static readonly byte[] Udp = PacketSpec.Parse("udp 198.51.100.7:40000 -> 192.0.2.10:53 len 20").Build();
    private static readonly byte[] Syn = PacketSpec.Parse("tcp [2001:db8::1]:40000 -> [2001:db8::2]:443 syn").Build();

    /// <summary>2024-01-01 00:00:01.123456789 UTC, in nanoseconds since the epoch.</summary>
    private const long At = 1_704_067_201_123_456_789;

    [Theory]
    [InlineData(PcapPrecision.Microseconds, 0xa1b2c3d4u, 123_456u)]
    [InlineData(PcapPrecision.Nanoseconds, 0xa1b23c4du, 123_456_789u)]
    public void HeaderAndRecordsByteForByte(PcapPrecision precision, uint magic, uint fraction)
    {
        string file = Path("b.pcap");
        using (var sink = PcapSink.Create(file, precision, snapLength: 48))
        {
            Assert.Equal(precision, sink.Precision);
            sink.Write(Udp, At, 1500);     // 62 bytes snapped to 48, 1,500 on the wire
            sink.Write(new byte[] { 1, 2, 3 }, At + 1_000_000_000, 0);   // an original length below the bytes is raised to them
            Assert.Equal(2, sink.Count);
        }
        byte[] b = File.ReadAllBytes(file);
        // magic, version 2.4, thiszone 0, sigfigs 0, snaplen 48, LINKTYPE_ETHERNET (this host's byte order: little-endian here).
        Assert.Equal(magic, BitConverter.ToUInt32(b, 0));
        Assert.Equal([2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0], b[4..24]);
        Assert.Equal(1_704_067_201u, BitConverter.ToUInt32(b, 24));
        Assert.Equal(fraction, BitConverter.ToUInt32(b, 28));
        Assert.Equal(48u, BitConverter.ToUInt32(b, 32));
        Assert.Equal(1500u, BitConverter.ToUInt32(b, 36));
        Assert.Equal(Udp[..48], b[40..88]);
        Assert.Equal(1_704_067_202u, BitConverter.ToUInt32(b, 88));
        Assert.Equal(fraction, BitConverter.ToUInt32(b, 92));
        Assert.Equal(3u, BitConverter.ToUInt32(b, 96));
        Assert.Equal(3u, BitConverter.ToUInt32(b, 100));
        Assert.Equal([1, 2, 3], b[104..]);
    }

    [Fact]
    public void WithoutTimestampsFramesAreAMillisecondApartFrom2024()
    {
        string file = Path("d.pcap");
        PcapSink.WriteFile(file, [Udp, Syn]);
        var packets = PcapSource.ReadFile(file);
        Assert.Equal([Udp, Syn], packets.Select(p => p.Data));
        Assert.Equal(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc), packets[0].Timestamp);
        Assert.Equal(new DateTime(2024, 1, 1, 0, 0, 0, 1, DateTimeKind.Utc), packets[1].Timestamp);
    }

    private static (int Exit, string Out, string Err) RunTool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.Result);
    }

    [Theory]
    [InlineData(PcapPrecision.Microseconds)]
    [InlineData(PcapPrecision.Nanoseconds)]
    public void TcpdumpAndTsharkReadItBack(PcapPrecision precision)
    {
        string file = Path("t.pcap");
        using (var sink = PcapSink.Create(file, precision, snapLength: 60))
        {
            sink.Write(Udp, At, Udp.Length);
            sink.Write(Syn, At + 500, Syn.Length);
        }

        var (rc, stdout, stderr) = RunTool("tcpdump", "-nn", "-r", file, precision == PcapPrecision.Nanoseconds ? "--nano" : "--micro", "-tt");
        Assert.True(rc == 0, stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        string frac = precision == PcapPrecision.Nanoseconds ? "123456789" : "123456";
        Assert.StartsWith($"1704067201.{frac} IP 198.51.100.7.40000 > 192.0.2.10.53: ", lines[0]);
        Assert.StartsWith($"1704067201.{(precision == PcapPrecision.Nanoseconds ? "123457289" : "123457")} IP6 2001:db8::1.40000 > 2001:db8::2.443: ", lines[1]);
        Assert.EndsWith("[|tcp]", lines[1]);   // 60 bytes hold 6 of the TCP header's 20: tcpdump marks the cut

        (rc, stdout, stderr) = RunTool("tshark", "-n", "-r", file, "-T", "fields", "-E", "separator=,",
            "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.dst");
        Assert.True(rc == 0, stderr);
        var fields = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, fields.Length);
        Assert.Equal($"{Udp.Length},60,1704067201.{(precision == PcapPrecision.Nanoseconds ? "123456789" : "123456000")},198.51.100.7,", fields[0]);
        Assert.Equal($"{Syn.Length},60,1704067201.{(precision == PcapPrecision.Nanoseconds ? "123457289" : "123457000")},,2001:db8::2", fields[1]);
    }

    /// <summary>
    /// fwctl log fw0 -w - | tcpdump -nr -: each record is flushed as written, so tcpdump prints it while the
    /// sink is still open; when the reader goes, the next write says so (EPIPE) instead of failing silently.
    /// </summary>
    [Fact]
    public void EveryRecordReachesAPipeAsItIsWritten()
    {
        var psi = new ProcessStartInfo("tcpdump", ["-nn", "-l", "-r", "-"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var tcpdump = Process.Start(psi)!;
        var errors = tcpdump.StandardError.ReadToEndAsync();
        try
        {
            var pipe = (PipeStream)tcpdump.StandardInput.BaseStream;
            using var sink = PcapSink.Open($"/proc/self/fd/{pipe.SafePipeHandle.DangerousGetHandle()}", "tcpdump's stdin", PcapPrecision.Nanoseconds, PcapSink.DefaultSnapLength);
            tcpdump.StandardInput.Close();   // the sink has its own descriptor of the pipe

            sink.Write(Udp, At, Udp.Length);
            Assert.Contains("198.51.100.7.40000 > 192.0.2.10.53", ReadLine(tcpdump, errors));
            sink.Write(Syn, At, Syn.Length);
            Assert.Contains("2001:db8::1.40000 > 2001:db8::2.443", ReadLine(tcpdump, errors));

            tcpdump.Kill();
            tcpdump.WaitForExit();
            var e = Assert.Throws<BpfException>(() =>
            {
                for (int i = 0; i < 100; i++)   // the first write after the reader went may still fit the pipe's buffer
                    sink.Write(Udp, At, Udp.Length);
            });
            Assert.Equal(32, e.Errno);   // EPIPE
            Assert.Equal("write tcpdump's stdin: Broken pipe", e.Message);
        }
        finally
        {
            if (!tcpdump.HasExited)
                tcpdump.Kill();
        }
    }

    private static string ReadLine(Process p, Task<string> errors)
    {
        var line = p.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(TimeSpan.FromSeconds(10)), "tcpdump printed nothing within 10 s: the record was not flushed");
        return line.Result ?? throw new Xunit.Sdk.XunitException($"tcpdump ended: {(errors.IsCompleted ? errors.Result : "")}");
    }

    [Fact]
    public void CreatesMode0600AndEmptiesAnExistingFile()
    {
        string fresh = Path("new.pcap");
        using (PcapSink.Create(fresh))
        {
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fresh));
        Assert.Equal(24, new FileInfo(fresh).Length);

        string old = Path("old.pcap");
        File.WriteAllBytes(old, new byte[10_000]);
        PcapSink.WriteFile(old, [Udp]);
        Assert.Equal(24 + 16 + Udp.Length, new FileInfo(old).Length);
    }

    /// <summary>
    /// A path from a command line never makes root write through a link: a symbolic link there is refused and
    /// what it points at is left as it was, and so is a FIFO (at once, with no reader), a device or a directory.
    /// </summary>
    [Fact]
    public void RefusesLinksFifosDevicesAndDirectories()
    {
        string target = Path("precious");
        File.WriteAllText(target, "keep me");
        string link = Path("log.pcap");
        File.CreateSymbolicLink(link, target);
        var e = Assert.Throws<NotRegularFileException>(() => PcapSink.Create(link));
        Assert.Equal($"{link} is a symbolic link, not a regular file", e.Message);
        Assert.Equal("keep me", File.ReadAllText(target));

        string dangling = Path("dangling.pcap");
        File.CreateSymbolicLink(dangling, Path("nowhere"));
        Assert.Throws<NotRegularFileException>(() => PcapSink.Create(dangling));
        Assert.False(File.Exists(Path("nowhere")));

        string fifo = Path("fifo.pcap");
        using (var mk = Process.Start("mkfifo", [fifo])!)
            mk.WaitForExit();
        var sw = Stopwatch.StartNew();
        Assert.Contains("FIFO", Assert.Throws<NotRegularFileException>(() => PcapSink.Create(fifo)).Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");

        Assert.Contains("character device", Assert.Throws<NotRegularFileException>(() => PcapSink.Create("/dev/null")).Message);
        Assert.Contains("directory", Assert.Throws<NotRegularFileException>(() => PcapSink.Create(_dir)).Message);
        Assert.Equal(2, Assert.Throws<BpfException>(() => PcapSink.Create(Path("no/such/dir.pcap"))).Errno);
    }
}
