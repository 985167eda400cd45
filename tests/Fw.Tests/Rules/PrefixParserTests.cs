using Fw.Rules;
using Xunit;

namespace Fw.Tests.Rules;

/// <summary>The span-based address parser, checked against IPAddress where both accept.</summary>
public class PrefixParserTests
{
    public static TheoryData<string, string> Valid => new()
    {
        { "0.0.0.0", "0.0.0.0/32" },
        { "255.255.255.255", "255.255.255.255/32" },
        { "10.0.0.0/8", "10.0.0.0/8" },
        { "0.0.0.0/0", "0.0.0.0/0" },
        { "192.0.2.1/32", "192.0.2.1/32" },
        { "::", "::/128" },
        { "::/0", "::/0" },
        { "::1", "::1/128" },
        { "1::", "1::/128" },
        { "2001:db8::/32", "2001:db8::/32" },
        { "2001:DB8:0:0:0:0:0:1", "2001:db8::1/128" },
        { "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8/128" },
        { "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0/128" },
        { "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8/128" },
        { "1::8", "1::8/128" },
        { "::ffff:192.0.2.1", "::ffff:192.0.2.1/128" },
        { "64:ff9b::192.0.2.0/120", "64:ff9b::c000:200/120" },
        { "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304/128" },
        { "fe80::/10", "fe80::/10" },
        { "2001:db8::/128", "2001:db8::/128" },
        { "10.0.0.0/08", "10.0.0.0/8" },
    };

    public static TheoryData<string, PrefixError> Invalid => new()
    {
        { "", PrefixError.NotAnAddress },
        { "10", PrefixError.NotAnAddress },
        { "any", PrefixError.NotAnAddress },
        { "1.2.3", PrefixError.BadIPv4 },
        { "1.2.3.4.5", PrefixError.BadIPv4 },
        { "1.2.3.256", PrefixError.BadIPv4 },
        { "1.2.3.", PrefixError.BadIPv4 },
        { ".1.2.3", PrefixError.BadIPv4 },
        { "1..2.3", PrefixError.BadIPv4 },
        { "1.2.3.4 ", PrefixError.BadIPv4 },
        { "1.2.3.1000", PrefixError.BadIPv4 },
        { "01.2.3.4", PrefixError.LeadingZero },
        { "1.2.3.00", PrefixError.LeadingZero },
        { "-1.2.3.4", PrefixError.BadIPv4 },
        { ":", PrefixError.BadIPv6 },
        { ":::", PrefixError.BadIPv6 },
        { "1:2", PrefixError.BadIPv6 },
        { "1:2:3:4:5:6:7:8:9", PrefixError.BadIPv6 },
        { "1:2:3:4:5:6:7:8::", PrefixError.BadIPv6 },
        { "::1:2:3:4:5:6:7:8", PrefixError.BadIPv6 },
        { "1::2::3", PrefixError.BadIPv6 },
        { "1:", PrefixError.BadIPv6 },
        { ":1::", PrefixError.BadIPv6 },
        { "12345::", PrefixError.BadIPv6 },
        { "g::", PrefixError.BadIPv6 },
        { "fe80::1%eth0", PrefixError.BadIPv6 },
        { "::1.2.3", PrefixError.BadIPv6 },
        { "1:2:3:4:5:6:7:1.2.3.4", PrefixError.BadIPv6 },
        { "10.0.0.0/", PrefixError.BadLength },
        { "10.0.0.0/-1", PrefixError.BadLength },
        { "10.0.0.0/8/8", PrefixError.BadLength },
        { "10.0.0.0/ 8", PrefixError.BadLength },
        { "10.0.0.0/33", PrefixError.LengthTooLong },
        { "10.0.0.0/1000", PrefixError.LengthTooLong },
        { "::/129", PrefixError.LengthTooLong },
        { "10.0.0.1/8", PrefixError.HostBitsSet },
        { "2001:db8::1/64", PrefixError.HostBitsSet },
        { "10.0.0.0\u00e9", PrefixError.NotAnAddress },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Parses(string text, string expected)
    {
        Assert.Equal(PrefixError.None, PrefixParser.TryParse(text, out var p));
        Assert.Equal(expected, p.ToString());
        Assert.Equal(PrefixError.None, PrefixParser.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out var q));
        Assert.Equal(p, q);
        // The address agrees with the framework's parser.
        var address = System.Net.IPAddress.Parse(text.Split('/')[0]);
        Assert.Equal(IpPrefix.FromAddress(address).Bits, p.Bits);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Refuses(string text, PrefixError expected)
    {
        Assert.Equal(expected, PrefixParser.TryParse(text, out _));
    }

    [Fact]
    public void HostBitsSuggestTheMaskedPrefix()
    {
        Assert.Equal(PrefixError.HostBitsSet, PrefixParser.TryParse("198.51.100.7/24", out var p));
        Assert.Equal("198.51.100.0/24", p.ToString());
        Assert.Equal("host bits set in '198.51.100.7/24'; did you mean 198.51.100.0/24?",
            PrefixParser.Describe(PrefixError.HostBitsSet, "198.51.100.7/24", p));
    }

    [Fact]
    public void RandomAddressesRoundTrip()
    {
        var random = new Random(7);
        Span<byte> b = stackalloc byte[16];
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(b);
            var address = i % 2 == 0 ? new System.Net.IPAddress(b[..4]) : new System.Net.IPAddress(b);
            int max = i % 2 == 0 ? 32 : 128;
            int length = random.Next(0, max + 1);
            var expected = IpPrefix.Create(IpPrefix.FromAddress(address).Family, IpPrefix.FromAddress(address).Bits, length);
            string text = $"{expected.ToIPAddress()}/{length}";
            Assert.Equal(PrefixError.None, PrefixParser.TryParse(text, out var p));
            Assert.Equal(expected, p);
        }
    }
}
