namespace Fw.Bpf;

/// <summary>What a path names, from the type bits of its mode (S_IFMT).</summary>
public enum FileKind
{
    Unknown,
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}
