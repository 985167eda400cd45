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
