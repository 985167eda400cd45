using Fw.Packets;

namespace Fw.Tests.Packets;

/// <summary>
/// Options headers (hop-by-hop, destination options) of every size the length byte allows, 8 to 2,048 bytes:
/// their padding options tile the header exactly, each within the 257 bytes a PadN can hold.
/// </summary>
public class Ipv6ExtTests
{
    public static TheoryData<int> Sizes => new([8, 16, 256, 264, 512, 1024, 2040, 2048]);

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PaddingOptionsFillTheHeader(int size)
    {
        foreach (var ext in new[] { Ipv6Ext.HopByHop(size), Ipv6Ext.DestOptions(size) })
        {
            Assert.Equal(size, ext.Size);
            byte[] data = ext.Data;   // the options, after next header and length
            int at = 0, options = 0;
            while (at < data.Length)
            {
                Assert.Equal(1, data[at]);   // PadN; never a Pad1 for a multiple of 8
                int length = 2 + data[at + 1];
                Assert.True(at + length <= data.Length, $"size {size}: option at {at} of {length} bytes runs past the header");
                Assert.All(data[(at + 2)..(at + length)], b => Assert.Equal(0, b));
                at += length;
                options++;
            }
            Assert.Equal(data.Length, at);
            Assert.Equal((data.Length + 256) / 257, options);
        }
    }

    [Fact]
    public void TheLongestHeaderParsesBack()
    {
        byte[] frame = Frame.Udp("2001:db8::1", "2001:db8::2", 1, 2)
            .WithExtensions(Ipv6Ext.HopByHop(2048), Ipv6Ext.DestOptions(2048)).Build();
        var p = FrameParser.Parse(frame);
        Assert.Equal([2048, 2048], p.Ipv6!.Extensions.Select(e => e.Length));
        Assert.Equal(14 + 40 + 4096 + 8, frame.Length);
        Assert.NotNull(p.Udp);
    }
}
