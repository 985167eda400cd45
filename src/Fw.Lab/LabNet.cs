using System.Net;

namespace Fw.Lab;

/// <summary>
/// The lab's addresses and MACs, the same in every lab (each lab's interfaces live in its own namespaces).
/// Only 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32 (documentation) are used, and no namespace
/// has a route outside them.
/// <code>
///  client ns                 fw ns                          server ns
///  c0 198.18.1.2/24  ---  fw0 198.18.1.1/24   fw1 198.18.2.1/24  ---  s0 198.18.2.2/24
///     198.18.3.2/24  (other)  198.18.3.1/24       2001:db8:2::1/64      2001:db8:2::2/64
///     2001:db8:1::2/64        2001:db8:1::1/64
///     2001:db8:3::2/64 (other) 2001:db8:3::1/64
///                             fw2 198.18.4.1/24  ---  k0 198.18.4.2/24     sink ns
///                                 2001:db8:4::1/64       2001:db8:4::2/64
/// </code>
/// The client's first pair of addresses is the admin range of rules/rules.yaml (198.18.1.0/24,
/// 2001:db8:1::/64); the "other" pair is outside it. The fw namespace routes between its three links.
/// </summary>
public static class LabNet
{
    // Interface names. fw attaches to FwClientIf (fw0): it sees what the client sends.
    public const string ClientIf = "c0";
    public const string FwClientIf = "fw0";
    public const string FwServerIf = "fw1";
    public const string FwSinkIf = "fw2";
    public const string ServerIf = "s0";
    public const string SinkIf = "k0";

    // Locally administered MACs, fixed so that neighbour entries and crafted frames need no lookup.
    public const string ClientMac = "02:fa:00:00:01:02";
    public const string FwClientMac = "02:fa:00:00:01:01";
    public const string FwServerMac = "02:fa:00:00:02:01";
    public const string ServerMac = "02:fa:00:00:02:02";
    public const string FwSinkMac = "02:fa:00:00:03:01";
    public const string SinkMac = "02:fa:00:00:03:02";

    public static readonly IPAddress ClientV4 = IPAddress.Parse("198.18.1.2");
    public static readonly IPAddress ClientV6 = IPAddress.Parse("2001:db8:1::2");
    /// <summary>The client's second addresses, outside the admin range.</summary>
    public static readonly IPAddress ClientOtherV4 = IPAddress.Parse("198.18.3.2");
    public static readonly IPAddress ClientOtherV6 = IPAddress.Parse("2001:db8:3::2");
    public static readonly IPAddress FwClientV4 = IPAddress.Parse("198.18.1.1");
    public static readonly IPAddress FwClientV6 = IPAddress.Parse("2001:db8:1::1");
    public static readonly IPAddress FwClientOtherV4 = IPAddress.Parse("198.18.3.1");
    public static readonly IPAddress FwClientOtherV6 = IPAddress.Parse("2001:db8:3::1");
    public static readonly IPAddress FwServerV4 = IPAddress.Parse("198.18.2.1");
    public static readonly IPAddress FwServerV6 = IPAddress.Parse("2001:db8:2::1");
    public static readonly IPAddress ServerV4 = IPAddress.Parse("198.18.2.2");
    public static readonly IPAddress ServerV6 = IPAddress.Parse("2001:db8:2::2");
    public static readonly IPAddress FwSinkV4 = IPAddress.Parse("198.18.4.1");
    public static readonly IPAddress FwSinkV6 = IPAddress.Parse("2001:db8:4::1");
    public static readonly IPAddress SinkV4 = IPAddress.Parse("198.18.4.2");
    public static readonly IPAddress SinkV6 = IPAddress.Parse("2001:db8:4::2");

    /// <summary>The prefixes every end host routes through the fw namespace (and nothing else).</summary>
    public const string LabV4 = "198.18.0.0/15";
    public const string LabV6 = "2001:db8::/32";
}
