using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>What an attach or reload did.</summary>
public sealed record ChangeResult(string Interface, ulong Generation, XdpMode Mode, bool FellBackToGeneric, TimeSpan Took);
