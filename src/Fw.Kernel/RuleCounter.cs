using Fw.Rules;

namespace Fw.Kernel;

/// <summary>One rule's counter, with the rule's position, name and action in the live generation.</summary>
public sealed record RuleCounter(int Index, string Name, RuleAction Action, Counter Counter);
