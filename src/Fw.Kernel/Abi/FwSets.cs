using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>The live sets' constants of bpf/fw_common.h: the slots of fw_sets and fw_set_stats.</summary>
public static class FwSets
{
    /// <summary>FW_SET_SLOTS: 0-7 the sets rules name in src, 8-15 in dst, 16-31 add_to's other targets.</summary>
    public const int Slots = 32;

    /// <summary>FW_SET_FIELD_SLOTS: live sets a ruleset may name in src, and in dst.</summary>
    public const int FieldSlots = 8;
    public const int SrcSlot = 0;
    public const int DstSlot = 8;
    public const int OtherSlot = 16;

    /// <summary>FW_SET_KEY_BITS: the family word's bits in a key's prefixlen.</summary>
    public const int KeyBits = 32;

    /// <summary>FW_SET_NEST: expired entries covering one address that a lookup looks past.</summary>
    public const int Nest = 8;

    /// <summary>FW_LIMIT_ENTRIES: the limits' buckets per interface.</summary>
    public const int LimitEntries = 65536;

    /// <summary>FW_MAX_LIMITS: rules with a limit per ruleset.</summary>
    public const int MaxLimits = 64;
}

/// <summary>enum fw_set_counter: a live set's counters (fw_set_stats inner maps, per CPU), by index.</summary>
public enum FwSetCounter : uint
{
    /// <summary>Entries add_to added.</summary>
    Added = 0,

    /// <summary>add_to of a source already there: its expiry moved on.</summary>
    Refreshed = 1,

    /// <summary>add_to's adds refused: the set held max entries.</summary>
    Full = 2,

    /// <summary>Expired entries removed (fwd's sweep, fwctl set); written by the control plane.</summary>
    Expired = 3,

    /// <summary>Entries fwctl set del/flush/sync removed; written by the control plane.</summary>
    Removed = 4,

    /// <summary>
    /// Entries fwctl set add/sync added (new, or back after they had expired); written by the control plane. Its
    /// renewals of live entries are counted nowhere: <see cref="Refreshed"/> is the data plane's, per CPU, and a
    /// second writer of CPU 0's value would lose counts.
    /// </summary>
    AddedCtl = 5,

    /// <summary>FW_SET_COUNTERS: the inner map's max_entries.</summary>
    Count = 8,
}

/// <summary>struct fw_set_key: family then address (network order), prefixlen = 32 + the prefix's length.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwSetKey
{
    public uint PrefixLen;
    public uint Family;
    public fixed byte Addr[16];
}

/// <summary>struct fw_set_val: a live set entry.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwSetVal
{
    /// <summary>CLOCK_MONOTONIC_COARSE ns from which it no longer matches; 0: never.</summary>
    public ulong ExpiresNs;

    /// <summary>CLOCK_MONOTONIC_COARSE ns of its add (or of the add_to that renewed it).</summary>
    public ulong AddedNs;

    /// <summary>Its key's prefixlen.</summary>
    public uint PrefixLen;
    public uint Pad;
}

/// <summary>struct fw_set_conf (fw_set_conf value): a generation's live set in one slot, as loaded.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwSetConf
{
    public fixed byte Name[64];

    /// <summary>Seconds given to entries added without one; 0: none.</summary>
    public uint Timeout;
    public uint Max;

    /// <summary>FW_FIELD_SRC / FW_FIELD_DST: where rules name it (0: only add_to).</summary>
    public uint Fields;

    /// <summary>The field's membership class base (the generation's fw_src_set_class / fw_dst_set_class).</summary>
    public uint SetClass;

    public string NameString
    {
        get
        {
            fixed (byte* p = Name)
            {
                var span = new ReadOnlySpan<byte>(p, 64);
                int n = span.IndexOf((byte)0);
                return System.Text.Encoding.UTF8.GetString(n < 0 ? span : span[..n]);
            }
        }
        set
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(value);
            if (bytes.Length >= 64)
                throw new ArgumentException("set name too long", nameof(value));
            fixed (byte* p = Name)
            {
                var span = new Span<byte>(p, 64);
                span.Clear();
                bytes.CopyTo(span);
            }
        }
    }
}

/// <summary>struct fw_limit_key: one bucket of a limit (rule's stat slot, source prefix).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwLimitKey
{
    public uint Slot;
    public uint Family;
    public ulong Hi;
    public ulong Lo;
}

/// <summary>struct fw_limit_val: GCRA's theoretical arrival time (CLOCK_MONOTONIC_COARSE ns).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwLimitVal
{
    public ulong TatNs;
}
