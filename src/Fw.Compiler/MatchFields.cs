namespace Fw.Compiler;

/// <summary>
/// The match fields, written once: the loader sizes and fills, the pin layout pins and the digest hashes each
/// field's maps from this list, and tests check it against bpf/fw_common.h (enum fw_field) and the maps of the
/// built fw.bpf.o. A new field is an entry here and in <see cref="FieldMask"/>, its table in
/// <see cref="RulesetCompiler"/>, and its lookup in the C program (ARCHITECTURE.md, "Add a match field").
/// </summary>
public static class MatchFields
{
    public static readonly IReadOnlyList<MatchField> All =
    [
        new(FieldMask.Src, "src", FieldKind.Prefix),
        new(FieldMask.Dst, "dst", FieldKind.Prefix),
        new(FieldMask.Proto, "proto", FieldKind.Byte),
        new(FieldMask.Sport, "sport", FieldKind.Port),
        new(FieldMask.Dport, "dport", FieldKind.Port),
        new(FieldMask.TcpFlags, "tcp_flags", FieldKind.Byte),
        new(FieldMask.IcmpType, "icmp_type", FieldKind.Byte),
        new(FieldMask.State, "state", FieldKind.Byte),
    ];
}
