namespace Fw.Rules;

/// <summary>
/// `conntrack:` at the top of the rules file: the flow table's size and its timeouts in seconds. Absent, these
/// defaults; used only when some rule names `state` or `track`.
/// </summary>
public sealed record ConntrackSettings
{
    public const int MinMax = 1024, MaxMax = 16_777_216;
    public const uint MinTimeout = 1, MaxTimeout = 2_592_000;   // 30 days

    /// <summary>The keys of `conntrack: timeouts:`, in the order rules/README.md lists them.</summary>
    public static readonly string[] TimeoutKeys = ["tcp_syn", "tcp_established", "tcp_closing", "udp", "udp_replied", "icmp"];

    public static ConntrackSettings Default { get; } = new();

    /// <summary>Table entries; when full, the least recently used flow is evicted.</summary>
    public int Max { get; init; } = 262_144;
    public uint TcpSyn { get; init; } = 60;
    public uint TcpEstablished { get; init; } = 21_600;
    public uint TcpClosing { get; init; } = 10;
    public uint Udp { get; init; } = 30;
    public uint UdpReplied { get; init; } = 120;
    public uint Icmp { get; init; } = 30;

    public uint Timeout(string key) => key switch
    {
        "tcp_syn" => TcpSyn,
        "tcp_established" => TcpEstablished,
        "tcp_closing" => TcpClosing,
        "udp" => Udp,
        "udp_replied" => UdpReplied,
        "icmp" => Icmp,
        _ => throw new ArgumentException($"no conntrack timeout '{key}'", nameof(key)),
    };

    public ConntrackSettings WithTimeout(string key, uint seconds) => key switch
    {
        "tcp_syn" => this with { TcpSyn = seconds },
        "tcp_established" => this with { TcpEstablished = seconds },
        "tcp_closing" => this with { TcpClosing = seconds },
        "udp" => this with { Udp = seconds },
        "udp_replied" => this with { UdpReplied = seconds },
        "icmp" => this with { Icmp = seconds },
        _ => throw new ArgumentException($"no conntrack timeout '{key}'", nameof(key)),
    };
}
