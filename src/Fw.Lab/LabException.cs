using Fw.Bpf;
namespace Fw.Lab;

/// <summary>
/// A lab step that failed outside a native call (those throw <see cref="Fw.Bpf.BpfException"/>): a command
/// (ip, nsenter) and its own message, or a lab that did not come up or go quiet.
/// </summary>
public sealed class LabException(string operation, string? detail = null)
    : Exception(detail is null or "" ? operation : $"{operation}: {detail}")
{
    public string Operation { get; } = operation;
}
