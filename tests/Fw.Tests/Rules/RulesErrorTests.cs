using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Every error of the rules contract: the file, where it is reported (line:col) and what it says.</summary>
public class RulesErrorTests
{
    private static string Y(params string[] lines) => string.Join("\n", lines) + "\n";

    public static TheoryData<string, string, int, int, string> Errors => new()
    {
        // description, yaml, line, column, message fragment
        { "unknown top-level key", Y("rules: []", "colour: red"), 2, 1, "unknown key 'colour' in the rules file" },
        { "unknown rule key, with a suggestion", Y("rules:", "  - action: pass", "    dprot: 22"), 3, 5, "unknown key 'dprot' in rule 1; did you mean 'dport'?" },
        { "keys are case-sensitive", Y("rules:", "  - Action: pass"), 2, 5, "unknown key 'Action' in rule 1; did you mean 'action'?" },
        { "unknown action", Y("rules:", "  - action: dorp"), 2, 13, "unknown action 'dorp'" },
        { "missing action", Y("rules:", "  - src: 10.0.0.0/8"), 2, 5, "rule 1 has no action" },
        { "missing action, named rule", Y("rules:", "  - name: web", "    dport: 80", "    proto: tcp"), 2, 5, "rule 'web' has no action" },
        { "empty rule", Y("rules:", "  - {}"), 2, 5, "rule 1 has no action" },
        { "bad default", Y("default: maybe"), 1, 10, "unknown verdict 'maybe' for 'default'; expected pass or drop" },
        { "malformed cannot redirect", Y("malformed: redirect"), 1, 12, "'malformed' cannot be redirect" },
        { "non_ip wrong type", Y("non_ip: [pass]"), 1, 9, "'non_ip': expected pass or drop, found a list" },
        { "default empty", Y("default:", "rules: []"), 1, 1, "'default' has no value" },
        { "rules is a mapping", Y("rules: {a: 1}"), 1, 8, "'rules': expected a list of rules, found a mapping" },
        { "rules is a scalar", Y("rules: all"), 1, 8, "'rules': expected a list of rules, found 'all'" },
        { "a rule that is not a mapping", Y("rules:", "  - action: pass", "  - pass"), 3, 5, "rule 2: expected a rule" },
        { "top level is a list", Y("- action: pass"), 1, 1, "expected a mapping of default, sets, rules" },
        { "top level is a scalar", Y("hello"), 1, 1, "expected a mapping of default, sets, rules, ... at the top of the rules file, found 'hello'" },
        { "duplicate key", Y("rules:", "  - action: pass", "    action: drop"), 3, 5, "duplicate key 'action' in rule 1 (first at rules.yaml:2:5)" },
        { "duplicate top-level key", Y("default: drop", "rules: []", "default: pass"), 3, 1, "duplicate key 'default' in the rules file" },

        // addresses
        { "src is a mapping", Y("rules:", "  - src: {a: 1}", "    action: pass"), 2, 10, "'src': expected an address, a prefix or \"@set\" or a list of those, found a mapping" },
        { "src has no value", Y("rules:", "  - src:", "    action: pass"), 2, 5, "'src' has no value" },
        { "src empty list", Y("rules:", "  - src: []", "    action: pass"), 2, 10, "'src' is an empty list" },
        { "src list holds a list", Y("rules:", "  - src: [[10.0.0.1]]", "    action: pass"), 2, 11, "'src': expected an address" },
        { "bad IPv4 octet", Y("rules:", "  - src: 10.0.0.300", "    action: pass"), 2, 10, "bad IPv4 address '10.0.0.300'" },
        { "IPv4 with three octets", Y("rules:", "  - dst: 10.0.1", "    action: pass"), 2, 10, "bad IPv4 address '10.0.1'" },
        { "IPv4 leading zero", Y("rules:", "  - src: 010.0.0.1", "    action: pass"), 2, 10, "leading zeros" },
        { "host bits set", Y("rules:", "  - src: 198.51.100.7/24", "    action: pass"), 2, 10, "host bits set in '198.51.100.7/24'; did you mean 198.51.100.0/24?" },
        { "host bits set IPv6", Y("rules:", "  - src: \"2001:db8::1/32\"", "    action: pass"), 2, 10, "host bits set in '2001:db8::1/32'; did you mean 2001:db8::/32?" },
        { "IPv4 length too long", Y("rules:", "  - dst: 10.0.0.0/33", "    action: pass"), 2, 10, "prefix length 33 is too long for IPv4 (max 32)" },
        { "IPv6 length too long", Y("rules:", "  - dst: \"2001:db8::/129\"", "    action: pass"), 2, 10, "prefix length 129 is too long for IPv6 (max 128)" },
        { "bad prefix length", Y("rules:", "  - dst: 10.0.0.0/x", "    action: pass"), 2, 10, "bad prefix length in '10.0.0.0/x'" },
        { "bad IPv6", Y("rules:", "  - src: \"2001:db8:::1\"", "    action: pass"), 2, 10, "bad IPv6 address '2001:db8:::1'" },
        { "IPv6 zone id", Y("rules:", "  - src: \"fe80::1%eth0\"", "    action: pass"), 2, 10, "bad IPv6 address" },
        { "not an address", Y("rules:", "  - src: 10", "    action: pass"), 2, 10, "'10' is not an IP address or prefix" },
        { "bad element in a list", Y("rules:", "  - src: [10.0.0.0/8, 1.2.3]", "    action: pass"), 2, 23, "bad IPv4 address '1.2.3'" },
        { "bad element in a block list", Y("rules:", "  - dst:", "      - 192.0.2.1", "      - 192.0.2.256", "    action: pass"), 4, 9, "bad IPv4 address '192.0.2.256'" },
        { "unknown set", Y("rules:", "  - src: \"@nope\"", "    action: pass"), 2, 10, "unknown set 'nope'" },
        { "unknown set, with a suggestion", Y("sets:", "  blocklist: []", "rules:", "  - src: \"@blocklst\"", "    action: pass"), 4, 10, "unknown set 'blocklst'; did you mean '@blocklist'?" },
        { "@ without a name", Y("rules:", "  - src: \"@\"", "    action: pass"), 2, 10, "'@' without a set name" },
        { "unquoted @ is a YAML error", Y("rules:", "  - src: @feed", "    action: pass"), 2, 10, "quote set references" },

        // proto
        { "unknown protocol", Y("rules:", "  - proto: tcpp", "    action: pass"), 2, 12, "unknown protocol 'tcpp'" },
        { "protocol out of range", Y("rules:", "  - proto: [tcp, 300]", "    action: pass"), 2, 18, "protocol number 300 is out of range (0-255)" },
        { "protocol negative", Y("rules:", "  - proto: -1", "    action: pass"), 2, 12, "unknown protocol '-1'" },

        // ports
        { "port past 65535", Y("rules:", "  - proto: tcp", "    dport: 70000", "    action: pass"), 3, 12, "port 70000 is out of range (0-65535)" },
        { "port range past 65535", Y("rules:", "  - proto: tcp", "    sport: 1024-65536", "    action: pass"), 3, 12, "port 65536 is out of range (0-65535)" },
        { "huge port", Y("rules:", "  - proto: tcp", "    dport: 99999999999999999999999", "    action: pass"), 3, 12, "is out of range (0-65535)" },
        { "reversed range", Y("rules:", "  - proto: udp", "    dport: 2000-1000", "    action: pass"), 3, 12, "reversed port range '2000-1000' (low above high); did you mean 1000-2000?" },
        { "port name", Y("rules:", "  - proto: tcp", "    dport: ssh", "    action: pass"), 3, 12, "bad port 'ssh' in dport" },
        { "bad port in a list", Y("rules:", "  - proto: tcp", "    dport: [22, 80-, 443]", "    action: pass"), 3, 17, "bad port '80-' in dport" },
        { "sport without proto", Y("rules:", "  - sport: 53", "    action: pass"), 2, 5, "sport requires proto tcp and/or udp" },
        { "dport with icmp", Y("rules:", "  - proto: icmp", "    dport: 53", "    action: pass"), 3, 5, "dport requires proto tcp and/or udp (the rule has proto icmp)" },
        { "dport with tcp and icmp", Y("rules:", "  - proto: [tcp, icmp]", "    dport: 53", "    action: pass"), 3, 5, "dport requires proto tcp and/or udp" },
        { "dport before proto", Y("rules:", "  - dport: 53", "    proto: 47", "    action: pass"), 2, 5, "dport requires proto tcp and/or udp" },

        // tcp_flags
        { "tcp_flags with udp", Y("rules:", "  - proto: udp", "    tcp_flags: syn", "    action: pass"), 3, 5, "tcp_flags requires proto tcp" },
        { "tcp_flags with tcp and udp", Y("rules:", "  - proto: [tcp, udp]", "    tcp_flags: syn", "    action: pass"), 3, 5, "tcp_flags requires proto tcp" },
        { "tcp_flags without proto", Y("rules:", "  - tcp_flags: syn", "    action: pass"), 2, 5, "tcp_flags requires proto tcp" },
        { "unknown TCP flag", Y("rules:", "  - proto: tcp", "    tcp_flags: \"syn,!akc\"", "    action: pass"), 3, 21, "unknown TCP flag 'akc'" },
        { "unknown TCP flag after a space", Y("rules:", "  - proto: tcp", "    tcp_flags: syn, foo", "    action: pass"), 3, 21, "unknown TCP flag 'foo'" },
        { "TCP flag twice", Y("rules:", "  - proto: tcp", "    tcp_flags: syn,ack,SYN", "    action: pass"), 3, 24, "TCP flag 'syn' is listed twice" },
        { "TCP flag set and cleared", Y("rules:", "  - proto: tcp", "    tcp_flags: \"syn,!syn\"", "    action: pass"), 3, 21, "TCP flag 'syn' is both set and cleared" },
        { "empty TCP flag", Y("rules:", "  - proto: tcp", "    tcp_flags: \"syn,,ack\"", "    action: pass"), 3, 21, "empty flag in tcp_flags" },
        { "tcp_flags as a list", Y("rules:", "  - proto: tcp", "    tcp_flags: [syn]", "    action: pass"), 3, 16, "'tcp_flags': expected flags like \"syn,!ack\", found a list" },
        { "unquoted !flag is a YAML tag", Y("rules:", "  - proto: tcp", "    tcp_flags: !ack", "    action: pass"), 3, 16, "YAML tag '!ack' is not supported; to write '!ack' as a value, quote it" },

        // icmp_type
        { "icmp_type without proto", Y("rules:", "  - icmp_type: 8", "    action: pass"), 2, 5, "icmp_type requires proto icmp and/or icmpv6" },
        { "icmp_type with tcp", Y("rules:", "  - proto: [icmp, tcp]", "    icmp_type: 8", "    action: pass"), 3, 5, "icmp_type requires proto icmp and/or icmpv6 (the rule has proto icmp, tcp)" },
        { "icmp_type out of range", Y("rules:", "  - proto: icmp", "    icmp_type: [8, 256]", "    action: pass"), 3, 20, "icmp_type 256 is out of range (0-255)" },
        { "icmp_type name", Y("rules:", "  - proto: icmp", "    icmp_type: echo", "    action: pass"), 3, 16, "bad icmp_type 'echo'" },

        // action and to
        { "redirect without to", Y("rules:", "  - action: redirect"), 2, 13, "action redirect requires 'to'" },
        { "to with pass", Y("rules:", "  - action: pass", "    to: eth1"), 3, 5, "'to' is only for action redirect, not pass" },
        { "to too long", Y("rules:", "  - action: redirect", "    to: an-interface-name"), 3, 9, "interface name 'an-interface-name' is 17 bytes long; at most 15" },
        { "to with a slash", Y("rules:", "  - action: redirect", "    to: eth/1"), 3, 9, "interface name 'eth/1' contains '/'" },

        // names
        { "duplicate name", Y("rules:", "  - name: a", "    action: pass", "  - name: a", "    action: drop"), 4, 11, "duplicate rule name 'a' (first used by rule 1 at rules.yaml:2:11)" },
        { "name too long", Y("rules:", "  - name: " + new string('n', 64), "    action: pass"), 2, 11, "is 64 characters long; at most 63" },
        { "name with a space", Y("rules:", "  - name: \"a b\"", "    action: pass"), 2, 11, "rule name 'a b' contains U+0020" },
        { "name with a slash", Y("rules:", "  - name: a/b", "    action: pass"), 2, 11, "rule name 'a/b' contains '/'" },
        { "empty name", Y("rules:", "  - name: \"\"", "    action: pass"), 2, 11, "empty rule name" },
        { "name taken from another rule's default", Y("rules:", "  - name: rule-2", "    action: pass", "  - action: drop"), 2, 11, "rule name 'rule-2' is the default name of rule 2 (at rules.yaml:4:5), which has no name" },

        // interfaces
        { "interface twice", Y("interfaces: [eth0, eth0]"), 1, 20, "interface 'eth0' is listed twice" },
        { "a pair inside a list (YamlDotNet places it at 1:1; we find it)", Y("default: drop", "interfaces: [eth0, a: b]"), 2, 20, "'interfaces': expected interface names, found a mapping" },
        { "interfaces is a mapping", Y("interfaces: {eth0: 1}"), 1, 13, "'interfaces': expected interface names or a list of those, found a mapping" },

        // sets
        { "set is a scalar", Y("sets:", "  a: 10.0.0.0/8"), 2, 6, "set 'a': expected a list of addresses and prefixes, or {file: path}, found '10.0.0.0/8'" },
        { "set has no value", Y("sets:", "  a:"), 2, 3, "set 'a' has no value" },
        { "set with a bad prefix", Y("sets:", "  a: [10.0.0.0/8, 10.0.0.1/8]"), 2, 19, "host bits set in '10.0.0.1/8'; did you mean 10.0.0.0/8?" },
        { "set refers to a set", Y("sets:", "  a: [\"@b\"]", "  b: []"), 2, 7, "set 'a' refers to '@b'" },
        { "set name with a space", Y("sets:", "  \"bad name\": []"), 2, 3, "set name 'bad name' contains U+0020" },
        { "set with an unknown key", Y("sets:", "  a: {path: x.txt}"), 2, 7, "unknown key 'path' in set 'a'" },
        { "set file key twice", Y("sets:", "  a: {file: x.txt, file: y.txt}"), 2, 20, "duplicate key 'file' in set 'a'" },
        { "sets is a list", Y("sets: [a, b]"), 1, 7, "'sets': expected a mapping of set names" },

        // YAML itself
        { "empty file", "", 1, 1, "empty rules file" },
        { "only comments", Y("# nothing here", "   # still nothing"), 1, 1, "empty rules file" },
        { "only a document marker", Y("---"), 1, 1, "empty rules file" },
        { "YAML syntax error", Y("rules:", "  - action: pass", " - action: drop"), 3, 2, "invalid YAML:" },
        { "unclosed flow list", Y("rules: [", "default: pass"), 1, 8, "invalid YAML: the YAML parser gave up after this point" },
        { "tab indentation", Y("rules:", "  - action: pass", "\t- action: drop"), 3, 1, "indent with spaces, not tabs" },
        { "a key without a name (YamlDotNet drops a value)", Y("rules:", "  - : admin-ssh", "    action: pass"), 2, 6, "unknown key '' in rule 1" },
        { "two documents", Y("rules: []", "---", "rules: []"), 2, 1, "a rules file holds one YAML document" },
        { "anchor", Y("rules:", "  - &r {action: pass}"), 2, 5, "YAML anchors are not supported (&r)" },
        { "alias", Y("sets:", "  a: &x [10.0.0.0/8]", "  b: *x"), 3, 6, "YAML aliases are not supported (*x)" },
        { "merge key", Y("rules:", "  - &r {action: pass}", "  - <<: *r", "    name: x"), 3, 5, "unknown key '<<' in rule 2" },
        { "nesting too deep", Y("rules: " + new string('[', 100) + new string(']', 100)), 1, 39, "invalid YAML: nesting deeper than 32 levels" },
        { "NUL character", "rules: []\n\0", 2, 1, "NUL character" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Reports(string description, string yaml, int line, int column, string fragment)
    {
        _ = description;
        var r = Parse(yaml);
        AssertError(r, line, column, fragment);
    }

    [Fact]
    public void EveryErrorOfAFileIsReportedInOrder()
    {
        var r = Parse(Y(
            "default: maybe",            // 1
            "sets:",                     // 2
            "  bad: [10.0.0.1/8]",       // 3
            "rules:",                    // 4
            "  - name: a",               // 5
            "    proto: tcp",            // 6
            "    dport: [22, 70000]",    // 7
            "    action: dorp",          // 8
            "  - name: a",               // 9
            "    src: \"@missing\"",     // 10
            "    sport: 53",             // 11
            "    action: redirect"));    // 12
        var errors = r.Errors.Select(d => (d.Pos.Line, d.Pos.Column)).ToList();
        Assert.Equal(
            [(1, 10), (3, 9), (7, 17), (8, 13), (9, 11), (10, 10), (11, 5), (12, 13)],
            errors);
        Assert.Null(r.Ruleset);
        Assert.Contains(r.Errors, d => d.Message.Contains("unknown set 'missing'"));
        Assert.Contains(r.Errors, d => d.Message.Contains("duplicate rule name 'a'"));
    }

    [Fact]
    public void TooManyRulesIsReportedAtTheFirstRulePastTheBound()
    {
        var yaml = "rules:\n" + string.Concat(Enumerable.Repeat("  - action: pass\n", 4097));
        var r = Parse(yaml);
        var e = AssertError(r, 4098, 5, "ruleset exceeds 4096 rules");
        Assert.Single(r.Errors);
        Assert.True(Parse("rules:\n" + string.Concat(Enumerable.Repeat("  - action: pass\n", 4096))).Ok);
        _ = e;
    }

    [Fact]
    public void BillionLaughsIsRefused()
    {
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (int i = 1; i < 10; i++)
            lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]");
        lines.Add("rules: *a9");
        var r = Parse(Y([.. lines]));
        AssertError(r, 1, 5, "YAML anchors are not supported (&a0)");
        AssertError(r, 2, 10, "YAML aliases are not supported (*a0)");
        Assert.Contains(r.Errors, e => e.Message.Contains("more errors in rules.yaml not shown"));
    }

    [Fact]
    public void InvalidUtf8IsAnErrorAtItsPosition()
    {
        using var dir = new TempDir();
        var bytes = System.Text.Encoding.UTF8.GetBytes("rules:\n  - name: caf\u00e9\n    action: pass\n  - name: x")
            .Concat(new byte[] { 0xFF, 0xFE }).Concat("\n    action: drop\n"u8.ToArray()).ToArray();
        string path = dir.WriteBytes("rules.yaml", bytes);
        var r = RulesLoader.Load(path);
        AssertError(r, 4, 12, "invalid UTF-8 byte 0xFF", path);
    }

    [Fact]
    public void BinaryRulesFileIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteBytes("rules.yaml", [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0]);
        var r = RulesLoader.Load(path);
        AssertError(r, 1, 8, "NUL byte", path);
    }

    [Fact]
    public void MissingRulesFileIsAnError()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "nope.yaml");
        var r = RulesLoader.Load(path);
        var e = AssertError(r, 1, 1, "cannot read rules file: no such file", path);
        Assert.Equal(0, e.Length);
        AssertError(RulesLoader.Load(dir.Path), 1, 1, "it is a directory", dir.Path);
    }

    [Fact]
    public void HugeRulesFileIsRefusedWithoutReadingIt()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "rules.yaml");
        using (var f = new FileStream(path, FileMode.Create))
            f.SetLength(RulesLoader.MaxFileBytes + 1); // sparse: nothing is written
        var r = RulesLoader.Load(path);
        AssertError(r, 1, 1, "rules file is too large (67,108,865 bytes; at most 64 MiB)", path);
    }

    [Fact]
    public void ParseNeverThrowsOnGarbage()
    {
        var random = new Random(1234);
        const string alphabet = "ab:- \n\t[]{},\"'#&*!|>@%`?0123456789./";
        for (int i = 0; i < 2000; i++)
        {
            var chars = new char[random.Next(0, 80)];
            for (int k = 0; k < chars.Length; k++)
                chars[k] = alphabet[random.Next(alphabet.Length)];
            var r = Parse(new string(chars)); // must not throw
            Assert.True(r.Ok || r.Errors.Any());
            Assert.DoesNotContain(r.Diagnostics, d => d.Message.Contains("internal error"));
        }
    }
}
