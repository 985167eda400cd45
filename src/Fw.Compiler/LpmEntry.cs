using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Compiler;

/// <summary>
/// One merged address entry: a prefix (left-aligned in 128 bits, as <see cref="IpPrefix.Bits"/>) and the class
/// of the addresses it is the longest match for; what <see cref="PoptrieBuilder"/> builds from. The address is
/// held as two ulong halves, as in <see cref="IpPrefix"/>: code over a struct holding a UInt128 is not precompiled
/// (ReadyToRun), and the builder's loops over a million entries would start as tier-0 JIT code.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct LpmEntry
{
    public LpmEntry(UInt128 bits, byte length, uint @class)
        : this((ulong)(bits >> 64), (ulong)bits, length, @class)
    {
    }

    public LpmEntry(ulong hi, ulong lo, byte length, uint @class)
    {
        Hi = hi;
        Lo = lo;
        Length = length;
        Class = @class;
    }

    /// <summary>The high 64 bits of <see cref="Bits"/>.</summary>
    public ulong Hi { get; init; }

    /// <summary>The low 64 bits of <see cref="Bits"/>.</summary>
    public ulong Lo { get; init; }

    public byte Length { get; init; }

    public uint Class { get; init; }

    /// <summary>The prefix, left-aligned in 128 bits.</summary>
    public UInt128 Bits
    {
        get => new(Hi, Lo);
        init => (Hi, Lo) = ((ulong)(value >> 64), (ulong)value);
    }

    public void Deconstruct(out UInt128 bits, out byte length, out uint @class) => (bits, length, @class) = (Bits, Length, Class);
}
