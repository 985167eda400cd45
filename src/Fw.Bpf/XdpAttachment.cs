
namespace Fw.Bpf;

/// <summary>What is attached to an interface's XDP hook: the program's id (0: none) and its mode.</summary>
public readonly record struct XdpAttachment(uint ProgId, XdpMode Mode);
