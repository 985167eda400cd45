using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>How <see cref="Classifier.Load"/> builds a generation.</summary>
public sealed class ClassifierOptions
{
    /// <summary>fw_stats to share (the dispatcher's, across generations); null: the object makes its own.</summary>
    public BpfMap? Stats { get; init; }

    /// <summary>The flow table to share (the interface's pinned fw_ct); null: the object makes its own, sized by the image.</summary>
    public BpfMap? Conntrack { get; init; }

    /// <summary>The packet log and its token bucket to share (the interface's pinned fw_log, fw_log_bucket); null: the object's own.</summary>
    public (BpfMap Ring, BpfMap Bucket)? Log { get; init; }

    /// <summary>
    /// The live sets by name (the interface's pinned ones); null: the classifier makes private empty ones
    /// (tests reach them with <see cref="Classifier.LiveSet"/>). Borrowed: the caller disposes them.
    /// </summary>
    public IReadOnlyDictionary<string, LiveSetMap>? LiveSets { get; init; }

    /// <summary>The limits' buckets to share (the interface's pinned fw_limit); null: the object's own.</summary>
    public BpfMap? Limits { get; init; }

    /// <summary>fw_stats slot of each rule, by index; null: <see cref="StatSlots.Initial"/>.</summary>
    public IReadOnlyList<uint>? StatSlots { get; init; }

    /// <summary>Record each verdict in fw_trace_out (fwctl test and the kernel tests); off for live traffic.</summary>
    public bool Trace { get; init; }

    /// <summary>Interface name to ifindex for redirect targets; default <see cref="NetInterface.Index"/>.</summary>
    public Func<string, int>? ResolveInterface { get; init; }

    /// <summary>
    /// Load the classifier for multi-buffer frames (BPF_F_XDP_HAS_FRAGS, the default) or not: a dispatcher pinned by
    /// a build before multi-buffer support tail-calls only a classifier loaded without.
    /// </summary>
    public bool Frags { get; init; } = true;

    /// <summary>The classifier object; default bpf/fw.bpf.o beside the binaries.</summary>
    public string? ObjectPath { get; init; }

    /// <summary>
    /// TEST-ONLY (see <see cref="FaultInjection"/>): max_entries of these maps whatever the image needs, so
    /// that filling them fails in the kernel.
    /// </summary>
    internal IReadOnlyDictionary<string, int>? MaxEntriesOverride { get; init; }
}
