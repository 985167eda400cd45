using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>Struct layouts read from the BTF of a built BPF object: the C side's truth about sizes and offsets.</summary>
public static unsafe class BtfLayout
{
    public sealed record Member(string Name, int Offset);

    public sealed record Struct(string Name, int Size, IReadOnlyList<Member> Members);

    public static IReadOnlyDictionary<string, Struct> Read(string objectPath, IEnumerable<string> names)
    {
        LibbpfLog.Install();
        nint btf = BpfException.CheckPtr(Interop.btf__parse(objectPath, 0), $"read BTF of {objectPath}");
        try
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
            return result;
        }
        finally
        {
            Interop.btf__free(btf);
        }
    }
}
