
namespace Fw.Bpf;

/// <summary>How an XDP program runs on an interface: in the driver (native) or on the skb (generic).</summary>
public enum XdpMode
{
    Auto = 0,
    Native = 1,
    Generic = 2,
}
