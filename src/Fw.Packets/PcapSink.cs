using System.Runtime.InteropServices;
using Fw.Bpf;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fw.Packets;

/// <summary>The timestamp unit of a pcap file a <see cref="PcapSink"/> writes (its magic number says which).</summary>
public enum PcapPrecision
{
    /// <summary>Magic 0xa1b2c3d4: what every reader takes.</summary>
    Microseconds,

    /// <summary>Magic 0xa1b23c4d: tcpdump 4.6+, Wireshark, libpcap 1.5+.</summary>
    Nanoseconds,
}

/// <summary>
/// Writes classic pcap (LINKTYPE_ETHERNET, this host's byte order) through libpcap's <c>pcap_dump</c>, by
/// SharpPcap's <see cref="CaptureFileWriterDevice"/>: one record per <see cref="Write(ReadOnlySpan{byte}, long, int)"/>,
/// with the frame's original length beside the bytes kept (at most <see cref="SnapLength"/>), and flushed before
/// Write returns, so a reader at the other end of a pipe (<c>fwctl log fw0 -w - | tcpdump -nr -</c>) sees each
/// frame as it comes. <c>-</c> is standard output (libpcap's <c>pcap_dump_open</c> takes it so, as tcpdump -w -
/// does); any other path is created or emptied by <see cref="RegularFile.Create"/>: a regular file, never written
/// through a symbolic link, and libpcap is given the name of that checked descriptor (<c>/proc/self/fd/N</c>).
/// </summary>
public sealed class PcapSink : IDisposable
{
    /// <summary>libpcap's and tcpdump's default: whole frames, jumbo ones included.</summary>
    public const int DefaultSnapLength = 262144;

    /// <summary>The name that means standard output.</summary>
    public const string StandardOutput = "-";

    private static readonly DateTime FirstDefaultTime = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly Dumper _device;
    private readonly TimestampResolution _resolution;
    private long _nextDefaultNs = (FirstDefaultTime - DateTime.UnixEpoch).Ticks * 100;

    private PcapSink(Dumper device, string name, PcapPrecision precision, int snapLength)
    {
        _device = device;
        Name = name;
        Precision = precision;
        SnapLength = snapLength;
        _resolution = precision == PcapPrecision.Nanoseconds ? TimestampResolution.Nanosecond : TimestampResolution.Microsecond;
    }

    /// <summary>The path as given (<c>-</c> for standard output), in every message.</summary>
    public string Name { get; }

    public PcapPrecision Precision { get; }

    /// <summary>The file header's snaplen: no record keeps more bytes of a frame.</summary>
    public int SnapLength { get; }

    /// <summary>Records written.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// A new pcap file at <paramref name="path"/> (an existing regular file is emptied; mode 0600 if created: frames
    /// carry what users sent), or standard output for <c>-</c>. The header is written and flushed at once.
    /// </summary>
    /// <exception cref="NotRegularFileException">The path is a symbolic link, a directory, a FIFO or a device.</exception>
    /// <exception cref="BpfException">It cannot be created (errno: ENOENT for a missing directory, EACCES, ...), or the header cannot be written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A snaplen below 1.</exception>
    public static PcapSink Create(string path, PcapPrecision precision = PcapPrecision.Microseconds, int snapLength = DefaultSnapLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        if (path == StandardOutput)
            return Open(StandardOutput, path, precision, snapLength);
        using var file = RegularFile.Create(path);
        return Open($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}", path, precision, snapLength);
    }

    /// <summary>Writes <paramref name="frames"/> to a new file at <paramref name="path"/>, one millisecond apart from 2024-01-01.</summary>
    public static void WriteFile(string path, IEnumerable<byte[]> frames, PcapPrecision precision = PcapPrecision.Microseconds)
    {
        using var sink = Create(path, precision);
        foreach (var f in frames)
            sink.Write(f);
    }

    /// <summary>
    /// A sink on what libpcap opens by <paramref name="pcapName"/> (<c>pcap_dump_open</c>: <c>-</c>, or a path it
    /// creates with fopen "wb"); the tests give it the write end of a pipe as <c>/proc/self/fd/N</c>.
    /// </summary>
    internal static PcapSink Open(string pcapName, string name, PcapPrecision precision, int snapLength)
    {
        var device = new Dumper(pcapName);
        try
        {
            try
            {
                device.Open(new DeviceConfiguration
                {
                    LinkLayerType = PacketDotNet.LinkLayers.Ethernet,
                    Snaplen = snapLength,
                    TimestampResolution = precision == PcapPrecision.Nanoseconds ? TimestampResolution.Nanosecond : TimestampResolution.Microsecond,
                });
            }
            catch (PcapException e)
            {
                throw new BpfException($"open {name} for pcap", 0, e.Message);
            }
            var sink = new PcapSink(device, name, precision, snapLength);
            sink.Flush();
            return sink;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends one record and flushes it: the first <see cref="SnapLength"/> bytes of <paramref name="frame"/>,
    /// <paramref name="originalLength"/> as the frame's length on the wire (at least the bytes given), stamped
    /// <paramref name="unixNanoseconds"/> after 1970-01-01 UTC (cut to microseconds in a microsecond file).
    /// </summary>
    /// <exception cref="BpfException">The record could not be written out (errno: EPIPE when the reader of a pipe went, ENOSPC, ...).</exception>
    public void Write(ReadOnlySpan<byte> frame, long unixNanoseconds, int originalLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(unixNanoseconds);
        int captured = Math.Min(frame.Length, SnapLength);
        ulong seconds = (ulong)(unixNanoseconds / 1_000_000_000), ns = (ulong)(unixNanoseconds % 1_000_000_000);
        var header = new PcapHeader(0, 0, (uint)Math.Max(originalLength, frame.Length), (uint)captured)
        {
            Timeval = _resolution == TimestampResolution.Nanosecond
                ? new PosixTimeval(seconds, ns, TimestampResolution.Nanosecond)
                : new PosixTimeval(seconds, ns / 1000, TimestampResolution.Microsecond),
        };
        _device.Write(frame[..captured], ref header);
        Count++;
        Flush();
        _nextDefaultNs = unixNanoseconds + 1_000_000;
    }

    /// <summary>Appends one record stamped <paramref name="timestamp"/> (UTC; 100 ns is a DateTime's unit); the original length is the frame's unless given.</summary>
    public void Write(ReadOnlySpan<byte> frame, DateTime timestamp, int? originalLength = null) =>
        Write(frame, (timestamp.ToUniversalTime() - DateTime.UnixEpoch).Ticks * 100, originalLength ?? frame.Length);

    /// <summary>Appends one whole frame one millisecond after the previous record (the first at 2024-01-01): test captures.</summary>
    public void Write(ReadOnlySpan<byte> frame) => Write(frame, _nextDefaultNs, frame.Length);

    /// <summary>Closes the file (standard output included, as libpcap's pcap_dump_close does).</summary>
    public void Dispose() => _device.Dispose();

    private void Flush()
    {
        if (Interop.pcap_dump_flush(_device.DumpHandle) != 0)
            throw new BpfException($"write {(Name == StandardOutput ? "standard output" : Name)}", Marshal.GetLastPInvokeError());
    }

    /// <summary>SharpPcap's writer, with the libpcap dumper it opened (which it never flushes) in reach.</summary>
    private sealed class Dumper(string pcapName) : CaptureFileWriterDevice(pcapName, FileMode.Create)
    {
        public nint DumpHandle => m_pcapDumpHandle;
    }
}
