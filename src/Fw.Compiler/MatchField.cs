namespace Fw.Compiler;

/// <summary>How the data plane looks a field up, and so which maps hold its classes.</summary>
public enum FieldKind
{
    /// <summary>An address: one Poptrie per family (fw_NAME4_dir, _node, _leaf, _tail and the same for 6).</summary>
    Prefix,

    /// <summary>A port: a directory of 256-port pages and the pages (fw_NAME_dir, fw_NAME_page).</summary>
    Port,

    /// <summary>A byte: one class per value and one for "absent" (fw_NAME).</summary>
    Byte,
}

/// <summary>One match field of the data plane: its bit in fw_fields (<see cref="FieldMask"/>), name and kind.</summary>
public sealed record MatchField(FieldMask Mask, string Name, FieldKind Kind)
{
    /// <summary>The classifier maps holding this field's classes, as bpf/fw_maps.h names them.</summary>
    public IReadOnlyList<string> Maps => Kind switch
    {
        FieldKind.Prefix => [.. new[] { "4", "6" }.SelectMany(family => new[] { "dir", "node", "leaf", "tail" }.Select(part => $"fw_{Name}{family}_{part}"))],
        FieldKind.Port => [$"fw_{Name}_dir", $"fw_{Name}_page"],
        _ => [$"fw_{Name}"],
    };
}

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
    ];
}
