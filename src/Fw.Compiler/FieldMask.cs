namespace Fw.Compiler;

/// <summary>enum fw_field: which fields some rule constrains.</summary>
[Flags]
public enum FieldMask : uint
{
    None = 0,
    Src = 1 << 0,
    Dst = 1 << 1,
    Proto = 1 << 2,
    Sport = 1 << 3,
    Dport = 1 << 4,
    TcpFlags = 1 << 5,
    IcmpType = 1 << 6,
    State = 1 << 7,
}
