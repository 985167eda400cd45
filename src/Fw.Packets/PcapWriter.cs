namespace Fw.Packets;

/// <summary>
/// Writes the classic libpcap format (magic 0xa1b2c3d4, version 2.4, microsecond timestamps,
/// LINKTYPE_ETHERNET), in little-endian, so tcpdump and Wireshark can read test frames.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    public const uint LinkTypeEthernet = 1;
    public const int SnapLength = 262144;

    readonly Stream _stream;
    readonly bool _ownsStream;
    DateTime _next = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public PcapWriter(Stream stream, bool ownsStream = false)
    {
        _stream = stream;
        _ownsStream = ownsStream;
        Span<byte> header = stackalloc byte[24];
        WriteLe32(header, 0, 0xa1b2c3d4);
        WriteLe16(header, 4, 2);          // version major
        WriteLe16(header, 6, 4);          // version minor
        WriteLe32(header, 8, 0);          // thiszone
        WriteLe32(header, 12, 0);         // sigfigs
        WriteLe32(header, 16, SnapLength);
        WriteLe32(header, 20, LinkTypeEthernet);
        _stream.Write(header);
    }

    public static PcapWriter Create(string path) => new(File.Create(path), ownsStream: true);

    /// <summary>Writes every frame to a new file at <paramref name="path"/>.</summary>
    public static void WriteFile(string path, IEnumerable<byte[]> frames)
    {
        using var w = Create(path);
        foreach (var f in frames)
            w.Write(f);
    }

    /// <summary>Appends one frame; without a timestamp, frames are one millisecond apart from 2024-01-01.</summary>
    public void Write(ReadOnlySpan<byte> frame, DateTime? timestamp = null)
    {
        DateTime t = timestamp ?? _next;
        _next = t.AddMilliseconds(1);
        long ticks = (t.ToUniversalTime() - DateTime.UnixEpoch).Ticks;
        Span<byte> record = stackalloc byte[16];
        WriteLe32(record, 0, (uint)(ticks / TimeSpan.TicksPerSecond));
        WriteLe32(record, 4, (uint)(ticks % TimeSpan.TicksPerSecond / 10));
        int captured = Math.Min(frame.Length, SnapLength);
        WriteLe32(record, 8, (uint)captured);
        WriteLe32(record, 12, (uint)frame.Length);
        _stream.Write(record);
        _stream.Write(frame[..captured]);
    }

    public void Dispose()
    {
        _stream.Flush();
        if (_ownsStream)
            _stream.Dispose();
    }

    static void WriteLe16(Span<byte> b, int at, ushort v) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b[at..], v);

    static void WriteLe32(Span<byte> b, int at, uint v) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b[at..], v);
}
