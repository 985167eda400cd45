using Fw.Tests.Kernel;

namespace Fw.Tests.Cli;

/// <summary>A CLI test on a veth of its own, with a folder for its rules files; both removed on dispose.</summary>
public abstract class VethCliTest(string prefix) : IDisposable
{
    protected TestVeth Veth { get; } = new();
    protected string Dir { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>Writes a rules file into <see cref="Dir"/> and returns its path.</summary>
    protected string Write(string name, string yaml)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public virtual void Dispose()
    {
        Veth.Dispose();
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
