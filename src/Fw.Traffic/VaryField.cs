using System.Buffers.Binary;

namespace Fw.Traffic;

/// <summary>
/// A field the sender varies per frame: <see cref="Width"/> (2 or 4) bytes at <see cref="Offset"/>, read
/// big-endian; the bits of <see cref="Mask"/> are replaced by hashed ones, the rest stay as the template has
/// them (a port range 32768-65535 is mask 0x7fff over a template port with bit 15 set). Checksums are not
/// fixed up: fw and the peers measured do not check them.
/// </summary>
public readonly record struct VaryField(int Offset, int Width, uint Mask)
{
    public const int MaxFields = 4;

    /// <summary>The low <paramref name="bits"/> bits of a 4-byte field (e.g. the host part of an address).</summary>
    public static VaryField Low32(int offset, int bits) => new(offset, 4, bits >= 32 ? uint.MaxValue : (1u << bits) - 1);

    /// <summary>The low <paramref name="bits"/> bits of a 2-byte field (a port).</summary>
    public static VaryField Low16(int offset, int bits) => new(offset, 2, (1u << bits) - 1);

    /// <summary>Checks a list of fields against a frame length: at most <see cref="MaxFields"/>, each inside it.</summary>
    public static void Validate(IReadOnlyList<VaryField> fields, int frameLength)
    {
        if (fields.Count > MaxFields)
            throw new ArgumentException($"at most {MaxFields} varied fields", nameof(fields));
        foreach (var f in fields)
        {
            if (f.Width is not (2 or 4) || f.Offset < 0 || f.Offset + f.Width > frameLength)
                throw new ArgumentException($"varied field at {f.Offset} ({f.Width} bytes): width 2 or 4, inside the {frameLength}-byte frame", nameof(fields));
        }
    }

    /// <summary>
    /// Rewrites the fields of <paramref name="frame"/> for frame number <paramref name="seq"/>: each field's bits
    /// come from SplitMix64 of (seq, field), so every bit of every field varies from frame to frame as from a good
    /// random source. The same seq gives the same frame.
    /// </summary>
    public static void Apply(Span<byte> frame, IReadOnlyList<VaryField> fields, ulong seq)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            var f = fields[i];
            uint r = (uint)SplitMix64(seq * VaryField.MaxFields + (ulong)i);
            var at = frame.Slice(f.Offset, f.Width);
            if (f.Width == 2)
            {
                uint v = BinaryPrimitives.ReadUInt16BigEndian(at);
                BinaryPrimitives.WriteUInt16BigEndian(at, (ushort)((v & ~f.Mask) | (r & f.Mask)));
            }
            else
            {
                uint v = BinaryPrimitives.ReadUInt32BigEndian(at);
                BinaryPrimitives.WriteUInt32BigEndian(at, (v & ~f.Mask) | (r & f.Mask));
            }
        }
    }

    /// <summary>SplitMix64's output function (Steele, Lea and Flood 2014): a bijection of 64-bit values whose every output bit depends on every input bit.</summary>
    private static ulong SplitMix64(ulong x)
    {
        ulong z = x + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
