using System.Text;

namespace Fw.Rules;

/// <summary>Why text is not a usable address or prefix.</summary>
public enum PrefixError : byte
{
    None = 0,
    /// <summary>Neither an IPv4 nor an IPv6 address.</summary>
    NotAnAddress,
    BadIPv4,
    /// <summary>An IPv4 octet written with a leading zero ("010"): octal to inet_aton, decimal to others.</summary>
    LeadingZero,
    BadIPv6,
    BadLength,
    LengthTooLong,
    /// <summary>Bits below the prefix length are set; <c>prefix</c> holds the masked prefix as a suggestion.</summary>
    HostBitsSet,
}

/// <summary>
/// Parses "address" or "address/length" for IPv4 (dotted quad) and IPv6 (RFC 4291 text forms, including
/// "::" and a trailing dotted quad). Span based and allocation free, so a million-line set file parses in
/// well under a second; strict: no zone ids, no leading zeros in IPv4 octets, no host bits below the length.
/// </summary>
public static class PrefixParser
{
    /// <summary>Longest text that can be an address or prefix ("ffff:...:255.255.255.255/128" is 49).</summary>
    public const int MaxTextLength = 64;

    public static PrefixError TryParse(ReadOnlySpan<char> text, out IpPrefix prefix)
    {
        prefix = default;
        if (text.Length > MaxTextLength)
            return PrefixError.NotAnAddress;
        Span<byte> b = stackalloc byte[MaxTextLength];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c > 0x7f)
                return PrefixError.NotAnAddress;
            b[i] = (byte)c;
        }
        return TryParse(b[..text.Length], out prefix);
    }

    // TryParse and its helpers work on the ulong halves of the address, not a UInt128: crossgen2 then
    // precompiles them (ReadyToRun), so a cold fwctl parses a million prefixes in optimized code from the start.
    public static PrefixError TryParse(ReadOnlySpan<byte> text, out IpPrefix prefix)
    {
        prefix = default;
        int slash = -1;
        bool colon = false, dot = false;
        for (int i = 0; i < text.Length; i++)
        {
            byte c = text[i];
            if (c == '/')
            {
                slash = i;
                break;
            }
            colon |= c == ':';
            dot |= c == '.';
        }
        ReadOnlySpan<byte> addr = slash < 0 ? text : text[..slash];
        ulong hi, lo;
        IpFamily family;
        if (colon)
        {
            if (!TryParseV6(addr, out hi, out lo))
                return PrefixError.BadIPv6;
            family = IpFamily.V6;
        }
        else if (dot)
        {
            var e = TryParseV4(addr, out uint a);
            if (e != PrefixError.None)
                return e;
            (hi, lo) = ((ulong)a << 32, 0);
            family = IpFamily.V4;
        }
        else
        {
            return PrefixError.NotAnAddress;
        }

        int max = family == IpFamily.V4 ? 32 : 128;
        int length = max;
        if (slash >= 0)
        {
            var len = text[(slash + 1)..];
            if (len.Length == 0 || len.Length > 3)
                return len.Length > 3 && IsDigits(len) ? PrefixError.LengthTooLong : PrefixError.BadLength;
            length = 0;
            foreach (byte c in len)
            {
                if (c < '0' || c > '9')
                    return PrefixError.BadLength;
                length = length * 10 + (c - '0');
            }
            if (length > max)
                return PrefixError.LengthTooLong;
        }

        prefix = new IpPrefix(family, hi & IpPrefix.MaskHi(length), lo & IpPrefix.MaskLo(length), (byte)length);
        if (prefix.Hi != hi || prefix.Lo != lo)
            return PrefixError.HostBitsSet;
        return PrefixError.None;
    }

    /// <summary>The message for a failed parse of <paramref name="text"/>, as diagnostics print it.</summary>
    public static string Describe(PrefixError error, ReadOnlySpan<char> text, IpPrefix masked = default)
    {
        string s = text.Length > 80 ? string.Concat(text[..77], "...") : text.ToString();
        int slash = s.IndexOf('/');
        return error switch
        {
            PrefixError.NotAnAddress => $"'{s}' is not an IP address or prefix",
            PrefixError.BadIPv4 => $"bad IPv4 address '{s}'",
            PrefixError.LeadingZero => $"bad IPv4 address '{s}': leading zeros are not allowed (octal or decimal?)",
            PrefixError.BadIPv6 => $"bad IPv6 address '{s}'",
            PrefixError.BadLength => $"bad prefix length in '{s}'",
            PrefixError.LengthTooLong =>
                $"prefix length {s[(slash + 1)..]} is too long for {(s[..slash].Contains(':') ? "IPv6 (max 128)" : "IPv4 (max 32)")} in '{s}'",
            PrefixError.HostBitsSet => $"host bits set in '{s}'; did you mean {masked}?",
            _ => $"'{s}' is not an IP address or prefix",
        };
    }

    public static string Describe(PrefixError error, ReadOnlySpan<byte> text, IpPrefix masked = default) =>
        Describe(error, Encoding.UTF8.GetString(text[..Math.Min(text.Length, 100)]), masked);

    private static bool IsDigits(ReadOnlySpan<byte> s)
    {
        foreach (byte c in s)
            if (c < '0' || c > '9')
                return false;
        return s.Length > 0;
    }

    private static PrefixError TryParseV4(ReadOnlySpan<byte> s, out uint address)
    {
        address = 0;
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int value = 0;
            while (i < s.Length && s[i] >= '0' && s[i] <= '9' && i - start < 4)
                value = value * 10 + (s[i++] - '0');
            int digits = i - start;
            if (digits == 0 || digits > 3 || value > 255)
                return PrefixError.BadIPv4;
            if (digits > 1 && s[start] == '0')
                return PrefixError.LeadingZero;
            address = (address << 8) | (uint)value;
            octets++;
            if (i == s.Length)
                break;
            if (s[i] != '.' || octets == 4)
                return PrefixError.BadIPv4;
            i++;
        }
        return octets == 4 ? PrefixError.None : PrefixError.BadIPv4;
    }

    private static bool TryParseV6(ReadOnlySpan<byte> s, out ulong hi, out ulong lo)
    {
        (hi, lo) = (0, 0);
        Span<ushort> groups = stackalloc ushort[8];
        int n = 0;
        int gap = -1; // index in groups where "::" stands
        int i = 0;
        if (s.Length >= 2 && s[0] == ':' && s[1] == ':')
        {
            gap = 0;
            i = 2;
        }
        else if (s.Length == 0 || s[0] == ':')
        {
            return false;
        }

        while (i < s.Length)
        {
            if (n == 8)
                return false;
            int start = i;
            int value = 0;
            while (i < s.Length)
            {
                int h = HexValue(s[i]);
                if (h < 0 || i - start == 4)
                    break;
                value = (value << 4) | h;
                i++;
            }
            if (i < s.Length && s[i] == '.')
            {
                // A trailing dotted quad: the last 32 bits.
                if (n > 6 || TryParseV4(s[start..], out uint v4) != PrefixError.None)
                    return false;
                groups[n++] = (ushort)(v4 >> 16);
                groups[n++] = (ushort)v4;
                break;
            }
            if (i == start)
                return false;
            groups[n++] = (ushort)value;
            if (i == s.Length)
                break;
            if (s[i] != ':')
                return false; // also a fifth hex digit
            i++;
            if (i < s.Length && s[i] == ':')
            {
                if (gap >= 0)
                    return false;
                gap = n;
                i++;
            }
            else if (i == s.Length)
            {
                return false; // a single trailing ':'
            }
        }

        if (gap >= 0)
        {
            if (n == 8)
                return false; // "::" must stand for at least one group
            int tail = n - gap;
            for (int k = 0; k < tail; k++)
                groups[7 - k] = groups[n - 1 - k];
            for (int k = gap; k < 8 - tail; k++)
                groups[k] = 0;
        }
        else if (n != 8)
        {
            return false;
        }
        ulong high = ((ulong)groups[0] << 48) | ((ulong)groups[1] << 32) | ((ulong)groups[2] << 16) | groups[3];
        ulong low = ((ulong)groups[4] << 48) | ((ulong)groups[5] << 32) | ((ulong)groups[6] << 16) | groups[7];
        (hi, lo) = (high, low);
        return true;
    }

    private static int HexValue(byte c)
    {
        uint digit = (uint)(c - '0');
        if (digit <= 9)
            return (int)digit;
        uint letter = (uint)((c | 0x20) - 'a');
        return letter <= 5 ? (int)letter + 10 : -1;
    }
}
