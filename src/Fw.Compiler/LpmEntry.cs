using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Compiler;

/// <summary>
/// One merged address entry: a prefix (left-aligned in 128 bits, as <see cref="IpPrefix.Bits"/>) and the class
/// of the addresses it is the longest match for; what <see cref="PoptrieBuilder"/> builds from.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct LpmEntry(UInt128 Bits, byte Length, uint Class);
