namespace Fw.Rules;

/// <summary>
/// Set names: letters, digits and _ . : - (as rule names), at most 63 characters, and for a live set not "." or
/// "..": fw pins a live set under its name (/sys/fs/bpf/fw/IFACE/sets/NAME), so every set name from input (rules,
/// fwctl set) is checked here before a path is built from it.
/// </summary>
public static class SetName
{
    /// <summary>What is wrong with the name, or null when it is a valid set name.</summary>
    public static string? Problem(string name)
    {
        if (RulesReader.NameProblem(name, "set name") is { } problem)
            return problem;
        return name is "." or ".." ? $"'{name}' is not a set name" : null;
    }

    /// <summary>The name itself when valid; otherwise <see cref="ArgumentException"/> saying why.</summary>
    public static string Checked(string name) =>
        Problem(name) is { } problem ? throw new ArgumentException(problem, nameof(name)) : name;
}
