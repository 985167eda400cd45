using Fw.Kernel;
using Fw.Packets;

namespace Fw.Cli;

/// <summary>fwctl log -w: the logged frames as a pcap file (or stdout), each with its time and original length.</summary>
internal sealed class LogPcap : IDisposable
{
    private readonly PcapWriter _writer;
    private readonly Stream _stream;

    private LogPcap(Stream stream)
    {
        _stream = stream;
        _writer = new PcapWriter(stream);
        stream.Flush();
    }

    public static LogPcap Open(string path, TextWriter stdout)
    {
        if (path == "-")
            return new LogPcap(Console.OpenStandardOutput());
        return new LogPcap(new FileStream(path, FileMode.CreateNew, FileAccess.Write));
    }

    public void Write(LogRecord r)
    {
        _writer.Write(r.Data, r.Time.UtcDateTime);
        _stream.Flush();
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Dispose();
    }
}
