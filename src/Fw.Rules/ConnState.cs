namespace Fw.Rules;

/// <summary>
/// A packet's connection state, as `state:` names it: <see cref="Established"/> belongs to a flow in fw's table in
/// the direction that makes it a reply (or to a flow a `track: true` rule admitted, either way),
/// <see cref="Related"/> is an ICMP error quoting such a flow, <see cref="New"/> is everything else.
/// A rule's `state` is a set of these (flags).
/// </summary>
[Flags]
public enum ConnState : byte
{
    New = 1,
    Established = 2,
    Related = 4,
}
