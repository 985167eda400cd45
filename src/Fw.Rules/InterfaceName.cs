using System.Text;

namespace Fw.Rules;

/// <summary>
/// Interface names as the kernel takes them (dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':',
/// whitespace or control character. fw builds paths from them (/sys/fs/bpf/fw/IFACE, /run/fw/IFACE.lock), so
/// every name from input is checked here before anything touches the file system: in rules (`interfaces:`,
/// `to:`), in every fwctl command and in the kernel layer itself.
/// </summary>
public static class InterfaceName
{
    /// <summary>IFNAMSIZ - 1.</summary>
    public const int MaxBytes = 15;

    /// <summary>What is wrong with the name, or null when the kernel would take it.</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0)
            return "empty interface name";
        if (name is "." or "..")
            return $"'{RulesReader.Clip(name)}' is not an interface name";
        foreach (var r in name.EnumerateRunes())
        {
            if (r.Value is '/' or ':' || Rune.IsWhiteSpace(r) || Rune.IsControl(r))
                return $"interface name '{RulesReader.Clip(name)}' contains {RulesReader.CharName(r)}";
        }
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxBytes)
            return $"interface name '{RulesReader.Clip(name)}' is {bytes} bytes long; at most {MaxBytes}";
        return null;
    }

    /// <summary>The name itself when valid; otherwise <see cref="ArgumentException"/> saying why.</summary>
    public static string Checked(string name) =>
        Problem(name) is { } problem ? throw new ArgumentException(problem, nameof(name)) : name;
}
