namespace Fw.Kernel;

/// <summary>enum fw_ct_phase: where a flow is in its life; each has its timeout (conntrack.timeouts).</summary>
public enum FwCtPhase : byte
{
    TcpSyn = 0,
    TcpEstablished = 1,
    TcpClosing = 2,
    Udp = 3,
    UdpReplied = 4,
    Icmp = 5,
    Count = 6,
}
