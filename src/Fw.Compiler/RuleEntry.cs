using Fw.Rules;

namespace Fw.Compiler;

/// <summary>One rule as the data plane sees it; the interface name is resolved by the kernel layer.</summary>
public sealed record RuleEntry(string Name, RuleAction Action, string? RedirectTo);
