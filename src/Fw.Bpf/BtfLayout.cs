using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>Struct layouts read from the BTF of a built BPF object: the C side's truth about sizes and offsets.</summary>
public static unsafe class BtfLayout
{
    public sealed record Member(string Name, int Offset);

    public sealed record Struct(string Name, int Size, IReadOnlyList<Member> Members);

    /// <summary>The names of the variables of a data section (".maps": the object's maps), in order.</summary>
    public static IReadOnlyList<string> SectionVariables(string objectPath, string section) =>
        WithBtf(objectPath, btf => Datasec(btf, section, objectPath).Select(v => v.Name).ToList());

    /// <summary>The variables of a data section of a BTF: name, offset and size, in order.</summary>
    internal static List<(string Name, uint Offset, uint Size)> Datasec(nint btf, string section, string what)
    {
        int id = Interop.btf__find_by_name_kind(btf, section, Interop.BtfKindDatasec);
        if (id < 0)
            throw new BpfException($"find {section} in the BTF of {what}", -id);
        var sec = Interop.btf__type_by_id(btf, (uint)id);
        var infos = (Interop.BtfVarSecinfo*)(sec + 1);
        var vars = new List<(string, uint, uint)>();
        for (int i = 0; i < sec->Vlen; i++)
        {
            var v = Interop.btf__type_by_id(btf, infos[i].Type);
            vars.Add((Marshal.PtrToStringUTF8((nint)Interop.btf__name_by_offset(btf, v->NameOff)) ?? "", infos[i].Offset, infos[i].Size));
        }
        return vars;
    }

    private static T WithBtf<T>(string objectPath, Func<nint, T> read)
    {
        LibbpfLog.Install();
        nint btf = BpfException.CheckPtr(Interop.btf__parse(objectPath, 0), $"read BTF of {objectPath}");
        try
        {
            return read(btf);
        }
        finally
        {
            Interop.btf__free(btf);
        }
    }

    public static IReadOnlyDictionary<string, Struct> Read(string objectPath, IEnumerable<string> names) => WithBtf(objectPath, btf =>
    {
        var result = new Dictionary<string, Struct>();
        foreach (string name in names)
        {
            int id = Interop.btf__find_by_name_kind(btf, name, Interop.BtfKindStruct);
            if (id < 0)
                throw new BpfException($"find struct {name} in {objectPath}", -id);
            var t = Interop.btf__type_by_id(btf, (uint)id);
            var members = (Interop.BtfMember*)(t + 1);
            var list = new List<Member>();
            for (int i = 0; i < t->Vlen; i++)
            {
                string m = Marshal.PtrToStringUTF8((nint)Interop.btf__name_by_offset(btf, members[i].NameOff)) ?? "";
                list.Add(new Member(m, (int)(members[i].Offset & 0xffffff) / 8));
            }
            result[name] = new Struct(name, (int)t->SizeOrType, list);
        }
        return (IReadOnlyDictionary<string, Struct>)result;
    });
}
