using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// libpcap: only the calls SharpPcap (which declares the rest of libpcap for fw) leaves out. A record written
/// with <c>pcap_dump</c> sits in stdio's buffer until <c>pcap_dump_flush</c>, and SharpPcap's writer never
/// flushes; a classic pcap header's frame-check-sequence bits are in <c>pcap_datalink_ext</c> only; a live
/// capture keeps one direction by <c>pcap_setdirection</c> only (the <c>inbound</c>/<c>outbound</c> filters lose
/// the first frame: libpcap runs it through its own BPF interpreter, which cannot read the packet type). All take
/// pointers SharpPcap opened (a <c>pcap_dumper_t *</c>, a <c>pcap_t *</c>), loaded from the same library.
/// </summary>
internal static partial class Interop
{
    /// <summary>Writes out what stdio holds of a dump file: 0, or -1 with errno set (EPIPE: the reader went).</summary>
    [LibraryImport(Libraries.Libpcap, SetLastError = true)]
    internal static partial int pcap_dump_flush(nint dumper);

    /// <summary>The link-type field's upper bits of a savefile (LT_LINKTYPE_EXT): the FCS length, 0 if none.</summary>
    [LibraryImport(Libraries.Libpcap)]
    internal static partial int pcap_datalink_ext(nint pcap);

    /// <summary>Keeps only frames of one direction (PCAP_D_IN: not PACKET_OUTGOING; PCAP_D_OUT: PACKET_OUTGOING): 0, or -1 (pcap_geterr says why).</summary>
    [LibraryImport(Libraries.Libpcap)]
    internal static partial int pcap_setdirection(nint pcap, int direction);

    internal const int PcapDIn = 1, PcapDOut = 2;
}
