namespace Fw.Compiler;

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

