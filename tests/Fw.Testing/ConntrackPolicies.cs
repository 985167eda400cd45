namespace Fw.Testing;

/// <summary>Rulesets of the connection-tracking tests, written once: the issue's own example, and more on top.</summary>
public static class ConntrackPolicies
{
    /// <summary>Replies and ICMP errors pass; SSH is admitted and tracked; everything else drops.</summary>
    public const string RepliesAndSshIn = """
        default: drop
        rules:
          - name: replies
            state: [established, related]
            action: pass
          - name: ssh-in
            proto: tcp
            dport: 22
            tcp_flags: "syn,!ack"
            track: true
            action: pass

        """;

    /// <summary><see cref="RepliesAndSshIn"/> with DNS and ping tracked too, and new UDP counted by a drop rule.</summary>
    public const string TrackMore = RepliesAndSshIn + """
          - name: dns-in
            proto: udp
            dport: 53
            track: true
            action: pass
          - name: ping-in
            proto: [icmp, icmpv6]
            icmp_type: [8, 128]
            track: true
            action: pass
          - name: count-new-udp
            state: new
            proto: udp
            action: drop
        """;
}
