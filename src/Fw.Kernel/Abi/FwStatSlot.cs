namespace Fw.Kernel;

/// <summary>
/// enum fw_stat_slot: the fw_stats slots that count per action and per reason. Each keeps its number forever:
/// a new reason takes the next free number below <see cref="RuleBase"/>, so a pinned fw_stats read by a newer
/// build finds every counter where it was. Rule slots, from <see cref="RuleBase"/>, are assigned per rule name
/// by the control plane (<see cref="StatSlots"/>).
/// </summary>
public enum FwStatSlot : uint
{
    Pass = 0,
    Drop = 1,
    Redirect = 2,
    Default = 3,
    Malformed = 4,
    NonIp = 5,
    NoRuleset = 6,
    RedirectErr = 7,
    CtInsert = 8,
    CtInsertFail = 9,

    /// <summary>Of the inserts, those that took over an existing entry of their key: no new element.</summary>
    CtReuse = 10,

    /// <summary>Entries the control plane removed (expired, flushed). Written by it, never by BPF.</summary>
    CtRemoved = 11,

    /// <summary>Frames written to the packet log.</summary>
    Log = 12,

    /// <summary>Frames to log over log.rate: not written.</summary>
    LogRate = 13,

    /// <summary>Frames to log that found the log's buffer full: not written.</summary>
    LogFull = 14,

    /// <summary>Limit checks that found the packet over the rule's rate.</summary>
    LimitOver = 15,

    /// <summary>Limit checks that found it within (and took one packet of the bucket).</summary>
    LimitUnder = 16,
    RuleBase = 64,
}
