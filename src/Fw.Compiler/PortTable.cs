using Fw.Rules;
namespace Fw.Compiler;

/// <summary>
/// A port class array (65,536 ports, then the absent entry) as the data plane reads it: a directory of
/// <see cref="FwPort.DirEntries"/> entries, one per 256 ports and the last for the absent entry, each either
/// <see cref="FwPort.Uniform"/> | class (every port of the page has that class) or the index of a page of
/// 256 classes. Identical pages are stored once.
/// <para>Rules name few ports and ranges, so most pages are uniform: a lookup of a port no rule names
/// reads one directory entry (1 KiB, stays in L1) instead of an entry of a 256 KiB array.</para>
/// </summary>
public sealed class PortTable
{
    private PortTable(uint[] dir, uint[] pages)
    {
        Directory = dir;
        Pages = pages;
    }

    /// <summary>fw_*port_dir[0]: <see cref="FwPort.DirEntries"/> entries.</summary>
    public uint[] Directory { get; }

    /// <summary>fw_*port_page: <see cref="PageCount"/> pages of <see cref="FwPort.Page"/> classes, back to back.</summary>
    public uint[] Pages { get; }

    public int PageCount => Pages.Length / FwPort.Page;

    /// <summary>Packs a flat class array (<see cref="FwLimits.PortAbsent"/> + 1 entries).</summary>
    public static PortTable Pack(uint[] classes)
    {
        if (classes.Length != FwLimits.PortAbsent + 1)
            throw new ArgumentException($"a port class array has {FwLimits.PortAbsent + 1} entries, not {classes.Length}", nameof(classes));
        var dir = new uint[FwPort.DirEntries];
        var pages = new List<uint>();
        var seen = new Dictionary<PageKey, uint>();
        for (int p = 0; p < FwPort.DirEntries - 1; p++)
        {
            var page = new ReadOnlyMemory<uint>(classes, p * FwPort.Page, FwPort.Page);
            uint first = page.Span[0];
            if (first >= FwPort.Uniform)
                throw new ArgumentException($"class {first} does not fit a port table entry", nameof(classes));
            if (!page.Span.ContainsAnyExcept(first))
            {
                dir[p] = FwPort.Uniform | first;
                continue;
            }
            var key = new PageKey(page);
            if (!seen.TryGetValue(key, out uint index))
            {
                index = (uint)seen.Count;
                seen.Add(key, index);
                pages.AddRange(page.Span);
            }
            dir[p] = index;
        }
        dir[FwPort.DirEntries - 1] = FwPort.Uniform | classes[FwLimits.PortAbsent];
        return new PortTable(dir, [.. pages]);
    }

    /// <summary>The class of <paramref name="port"/> (0-65,535, or <see cref="FwLimits.PortAbsent"/>), as the XDP program reads it.</summary>
    public uint Lookup(int port)
    {
        uint e = Directory[port >> FwPort.PageShift];
        return (e & FwPort.Uniform) != 0 ? e & ~FwPort.Uniform : Pages[(int)e * FwPort.Page + (port & (FwPort.Page - 1))];
    }

    /// <summary>A page's 256 classes compared by content.</summary>
    private readonly struct PageKey(ReadOnlyMemory<uint> classes) : IEquatable<PageKey>
    {
        private readonly ReadOnlyMemory<uint> _classes = classes;

        public bool Equals(PageKey other) => _classes.Span.SequenceEqual(other._classes.Span);

        public override bool Equals(object? obj) => obj is PageKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_classes.Span));
            return h.ToHashCode();
        }
    }
}
