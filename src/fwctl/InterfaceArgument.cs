using System.CommandLine;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>
/// The IFACE argument of every command: checked as the kernel checks interface names (<see cref="InterfaceName"/>)
/// while the command line is parsed, so a name like "..", "" or "../../tmp/x" is a usage error (exit 2) before
/// any path is built from it.
/// </summary>
internal static class InterfaceArgument
{
    public static Argument<string> Required(string description) => Validated(new Argument<string>("IFACE") { Description = description });

    public static Argument<string?> Optional(string description) =>
        Validated(new Argument<string?>("IFACE") { Description = description, Arity = ArgumentArity.ZeroOrOne });

    private static Argument<T> Validated<T>(Argument<T> argument)
    {
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (InterfaceName.Problem(token.Value) is { } problem)
                    result.AddError($"IFACE: {problem}");
            }
        });
        return argument;
    }
}
