using System.Buffers.Binary;
using Fw.Traffic;

namespace Fw.Tests.Traffic;

/// <summary>The sender's per-frame rewrite: only the masked bits change, the same sequence number gives the same frame, consecutive ones differ.</summary>
public sealed class VaryFieldTests
{
    private static readonly VaryField[] Fields = [VaryField.Low32(26, 15), VaryField.Low16(34, 15), VaryField.Low16(36, 8)];

    [Fact]
    public void OnlyTheMaskedBitsChangeAndTheyCoverTheirRange()
    {
        var template = new byte[64];
        new Random(1).NextBytes(template);
        var seenSrc = new HashSet<uint>();
        var seenPort = new HashSet<ushort>();
        for (ulong seq = 0; seq < 100_000; seq++)
        {
            var f = (byte[])template.Clone();
            VaryField.Apply(f, Fields, seq);
            for (int i = 0; i < f.Length; i++)
            {
                if (i is < 26 or >= 30 && i is not (34 or 35 or 37))
                    Assert.Equal(template[i], f[i]);
            }
            uint src = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(26));
            Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(template.AsSpan(26)) & ~0x7fffu, src & ~0x7fffu);
            Assert.Equal(template[34] & 0x80, f[34] & 0x80);
            seenSrc.Add(src & 0x7fff);
            seenPort.Add((ushort)(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34)) & 0x7fff));
        }
        // 100,000 draws over 32,768 values: a good hash leaves almost none unseen (expected ~1,570).
        Assert.True(seenSrc.Count > 30_000, $"{seenSrc.Count} distinct sources");
        Assert.True(seenPort.Count > 30_000, $"{seenPort.Count} distinct ports");
    }

    [Fact]
    public void TheSameSequenceNumberGivesTheSameFrame()
    {
        var a = new byte[64];
        var b = new byte[64];
        VaryField.Apply(a, Fields, 42);
        VaryField.Apply(b, Fields, 42);
        Assert.Equal(a, b);
        VaryField.Apply(b, Fields, 43);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void FieldsOutsideTheFrameAreRefused()
    {
        Assert.Throws<ArgumentException>(() => VaryField.Validate([VaryField.Low16(63, 16)], 64));
        Assert.Throws<ArgumentException>(() => VaryField.Validate([new VaryField(0, 3, 1)], 64));
        Assert.Throws<ArgumentException>(() => VaryField.Validate([.. Fields, .. Fields], 64));
    }
}
