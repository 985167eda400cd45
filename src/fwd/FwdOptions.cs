using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>What fwd was asked to do: its command line, checked by <see cref="FwdOptionsValidator"/> at start.</summary>
public sealed class FwdOptions
{
    /// <summary>The rules file as given (diagnostics name it so, as fwctl check does).</summary>
    public string RulesPath { get; set; } = "";

    /// <summary>ADDR:PORT to serve Prometheus text at /metrics; null: no HTTP server at all.</summary>
    public string? Metrics { get; set; }

    /// <summary>Detach every interface fwd manages when it stops (default: the filter stays).</summary>
    public bool DetachOnExit { get; set; }

    /// <summary>How long file events must be quiet before the file is read again.</summary>
    public TimeSpan Debounce { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How often fwd checks that every interface it manages is still filtered (<see cref="Fw.Kernel.Firewall.StateOf"/>:
    /// one pinned link opened, no lock taken), so that an interface deleted and created again is attached again
    /// within a second.
    /// </summary>
    public TimeSpan WatchInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often the watch removes the expired entries of each attached interface's flow table. Correctness does not
    /// wait for it (the data plane checks expiry where it reads an entry): it keeps dead flows from filling the table.
    /// </summary>
    public TimeSpan ConntrackSweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The metrics endpoint, parsed; only valid after validation.</summary>
    public IPEndPoint? MetricsEndpoint => Metrics is null ? null : ParseEndpoint(Metrics, out _);

    private const string Expected = "expected ADDR:PORT with a literal IP address, e.g. 127.0.0.1:9464 or [::1]:9464";

    /// <summary>
    /// ADDR:PORT, strictly: ADDR is an IPv4 dotted quad (four decimal parts 0-255, no leading zeros) or an IPv6
    /// literal in brackets, PORT is 1-65535 in decimal without leading zeros. Everything else is refused, in
    /// particular what other parsers take in some meaning the user may not have meant: inet_aton's short forms
    /// ("0" is 0.0.0.0, "127.1" is 127.0.0.1, "2130706433" is 127.0.0.1), octal and hex parts ("010" is 8, "0x7f"
    /// is 127), names ("localhost" may resolve to either family, or elsewhere), IPv6 without brackets (where does
    /// the port start in "::1:9464"?), zone ids, signs, spaces and non-ASCII digits.
    /// </summary>
    public static IPEndPoint? ParseEndpoint(string text, out string? problem)
    {
        problem = null;
        int colon = text.LastIndexOf(':');
        if (colon < 0)
            return Fail(text, out problem, "no :PORT");
        string host = text[..colon], port = text[(colon + 1)..];
        IPAddress? address;
        if (host.StartsWith('['))
        {
            if (!host.EndsWith(']') || host.Length < 3)
                return Fail(text, out problem, "an IPv6 address goes in brackets, e.g. [::1]:9464");
            string inner = host[1..^1];
            if (inner.Contains('%'))
                return Fail(text, out problem, "a zone id (%...) is not supported");
            if (!inner.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.') || !inner.Contains(':')
                || !IPAddress.TryParse(inner, out address) || address.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return Fail(text, out problem, $"'{inner}' is not an IPv6 address");
            }
            // An IPv4 tail (::ffff:192.0.2.1) must be a strict dotted quad as well.
            if (inner.Contains('.') && DottedQuad(inner[(inner.LastIndexOf(':') + 1)..], out string? tail) is null)
                return Fail(text, out problem, tail!);
        }
        else if (host.Contains(':'))
        {
            return Fail(text, out problem, "an IPv6 address goes in brackets, e.g. [::1]:9464");
        }
        else if ((address = DottedQuad(host, out string? why)) is null)
        {
            return Fail(text, out problem, why!);
        }
        if (port.Length == 0)
            return Fail(text, out problem, "no port after ':'");
        if (!port.All(char.IsAsciiDigit) || port.Length > 5)
            return Fail(text, out problem, $"the port '{port}' is not a number 1-65535");
        if (port.Length > 1 && port[0] == '0')
            return Fail(text, out problem, $"the port '{port}' has a leading zero");
        int p = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture);
        if (p is < 1 or > 65535)
        {
            problem = $"--metrics '{text}': the port must be 1-65535";
            return null;
        }
        return new IPEndPoint(address, p);
    }

    /// <summary>a.b.c.d, each part 0-255 in decimal, "0" or without a leading zero; null and why otherwise.</summary>
    private static IPAddress? DottedQuad(string host, out string? why)
    {
        why = null;
        string[] parts = host.Split('.');
        if (host.Length == 0 || parts.Length != 4 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit)))
        {
            why = host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && host.Any(char.IsAsciiLetter)
                ? $"'{host}' is a name; give the address itself"
                : $"'{host}' is not an IPv4 address in dotted-quad form (four decimal parts 0-255)";
            return null;
        }
        var bytes = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            string part = parts[i];
            if (part.Length > 1 && part[0] == '0')
            {
                why = $"'{host}': the part '{part}' has a leading zero (octal to some parsers, decimal to others)";
                return null;
            }
            if (part.Length > 3 || int.Parse(part, System.Globalization.CultureInfo.InvariantCulture) > 255)
            {
                why = $"'{host}': the part '{part}' is above 255";
                return null;
            }
            bytes[i] = byte.Parse(part, System.Globalization.CultureInfo.InvariantCulture);
        }
        return new IPAddress(bytes);
    }

    private static IPEndPoint? Fail(string text, out string? problem, string why)
    {
        problem = $"--metrics '{text}': {Expected}: {why}";
        return null;
    }

    /// <summary>0.0.0.0 or [::]: every address of the host, so every network it is on.</summary>
    public static bool IsWildcard(IPEndPoint ep) => ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any);
}

/// <summary>Options are checked when the host starts, before anything touches the kernel.</summary>
public sealed class FwdOptionsValidator : IValidateOptions<FwdOptions>
{
    public ValidateOptionsResult Validate(string? name, FwdOptions o)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(o.RulesPath))
            failures.Add("--rules FILE is required");
        else if (Directory.Exists(o.RulesPath))
            failures.Add($"--rules {o.RulesPath}: is a directory, expected the rules file (rules.yaml)");
        else if (!File.Exists(o.RulesPath))
            failures.Add($"--rules {o.RulesPath}: no such file");
        if (o.Metrics is not null && FwdOptions.ParseEndpoint(o.Metrics, out string? problem) is null)
            failures.Add(problem!);
        if (o.Debounce < TimeSpan.Zero || o.Debounce > TimeSpan.FromSeconds(10))
            failures.Add("debounce must be between 0 and 10 seconds");
        if (o.WatchInterval < TimeSpan.FromMilliseconds(10) || o.WatchInterval > TimeSpan.FromSeconds(10))
            failures.Add("the watch interval must be between 10 ms and 10 seconds");
        if (o.ConntrackSweepInterval < TimeSpan.FromMilliseconds(100) || o.ConntrackSweepInterval > TimeSpan.FromHours(1))
            failures.Add("the conntrack sweep interval must be between 100 ms and 1 hour");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
