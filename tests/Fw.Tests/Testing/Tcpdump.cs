using System.Diagnostics;
using Fw.Packets;

namespace Fw.Tests.Testing;

/// <summary>Runs tcpdump over frames written to a temporary pcap file and returns its decoding, one string per frame.</summary>
static class Tcpdump
{
    public static IReadOnlyList<string> Decode(IReadOnlyList<byte[]> frames, string flags = "-nn -v -e")
    {
        string path = Path.Combine(Path.GetTempPath(), $"fw-testing-{Guid.NewGuid():N}.pcap");
        try
        {
            PcapSink.WriteFile(path, frames);
            var psi = new ProcessStartInfo("tcpdump")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string flag in flags.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                psi.ArgumentList.Add(flag);
            psi.ArgumentList.Add("-tt"); // seconds since the epoch first on each packet's line: how Split finds packets
            psi.ArgumentList.Add("-r");
            psi.ArgumentList.Add(path);
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tcpdump");
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"tcpdump exited {p.ExitCode}: {stderr.Result}");
            return Split(stdout, frames.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static string Decode(byte[] frame, string flags = "-nn -v -e") => Decode([frame], flags)[0];

    /// <summary>Each packet starts with its timestamp at the start of a line; continuation lines are indented.</summary>
    static IReadOnlyList<string> Split(string output, int expected)
    {
        var packets = new List<string>();
        foreach (var line in output.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            if (char.IsDigit(line[0]))
                packets.Add(line);
            else if (packets.Count > 0)
                packets[^1] += "\n" + line;
        }
        if (packets.Count != expected)
            throw new InvalidOperationException($"tcpdump printed {packets.Count} packets, {expected} written:\n{output}");
        return packets;
    }
}
