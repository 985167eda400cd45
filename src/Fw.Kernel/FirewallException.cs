namespace Fw.Kernel;

/// <summary>An interface's fw state does not allow the operation; the message says what was found, not what to run.</summary>
/// <param name="operation">What was tried: attach, reload, detach, trace, read.</param>
public sealed class FirewallException(string iface, string operation, FirewallError error, string message) : Exception(message)
{
    public string Interface { get; } = iface;
    public string Operation { get; } = operation;
    public FirewallError Error { get; } = error;
}
