
namespace Fw.Compiler;

/// <summary>A trie past one of the data plane's bounds (FW_POP_MAX_NODES, FW_POP_MAX_LEAVES, FW_POP_MAX_TAILS).</summary>
public sealed class PoptrieBoundException(string what, int limit)
    : Exception($"more than {limit:N0} {what}")
{
    public string What { get; } = what;
    public int Limit { get; } = limit;
}
