using System.Net;

namespace Fw.Rules;

/// <summary>
/// IPv4-mapped IPv6 prefixes (inside ::ffff:0:0/96, RFC 4291 2.5.5.2). The data plane matches an IPv4 frame by
/// its IPv4 addresses against the IPv4 prefixes only, so "::ffff:10.0.0.1" never matches 10.0.0.1 sending IPv4:
/// the rule looks right and does nothing. A warning, not an error: an IPv6 frame can carry such an address.
/// </summary>
public static class MappedIPv4
{
    /// <summary>Whether p is inside ::ffff:0:0/96: its top 96 bits are those of ::ffff:0:0 (on the halves, no UInt128, so precompiled).</summary>
    public static bool IsMapped(IpPrefix p) =>
        p.Family == IpFamily.V6 && p.Length >= 96 && p.Hi == 0 && p.Lo >> 32 == 0xffff;

    /// <summary>The warning for a mapped <paramref name="p"/> written as <paramref name="written"/>, with the IPv4 form to write.</summary>
    public static string Warning(IpPrefix p, string written)
    {
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)(p.Bits & uint.MaxValue));
        var v4 = new IPAddress(bytes);
        int length = p.Length - 96;
        string ipv4 = length == 32 ? v4.ToString() : $"{v4}/{length}";
        string what = p.Length == 128 ? "address" : "prefix";
        return $"'{RulesReader.Clip(written)}' is an IPv4-mapped IPv6 {what} (inside ::ffff:0:0/96): it never matches an IPv4 frame, " +
            $"which is matched by its IPv4 addresses; write {ipv4}";
    }
}
