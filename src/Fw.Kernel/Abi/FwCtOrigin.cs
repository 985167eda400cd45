namespace Fw.Kernel;

/// <summary>enum fw_ct_origin: how a flow came into the table.</summary>
public enum FwCtOrigin : byte
{
    /// <summary>A packet that left through the interface (the egress program).</summary>
    Egress = 0,

    /// <summary>An inbound packet a track rule passed.</summary>
    Tracked = 1,
}
