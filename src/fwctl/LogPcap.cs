using Fw.Kernel;
using Fw.Packets;

namespace Fw.Cli;

/// <summary>fwctl log -w: the logged frames as a pcap file (or stdout), each with its time and original length.</summary>
internal sealed class LogPcap(PcapSink sink) : IDisposable
{
    /// <summary>A new pcap at <paramref name="path"/> (a regular file, never through a link) or stdout for "-"; ns timestamps.</summary>
    public static LogPcap Open(string path) => new(PcapSink.Create(path, PcapPrecision.Nanoseconds));

    public long Count => sink.Count;

    public void Write(LogRecord r) =>
        sink.Write(r.Data, (r.Time - DateTimeOffset.UnixEpoch).Ticks * 100, r.Length);

    public void Dispose() => sink.Dispose();
}
