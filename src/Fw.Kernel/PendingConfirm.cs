using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// A reload waiting for confirmation (<c>fwctl reload --confirm SECONDS</c>, Junos' commit confirmed): unless it
/// is confirmed before <see cref="Deadline"/>, <see cref="Firewall.Revert"/> puts generation
/// <see cref="PreviousGeneration"/> back. Kept in /run/fw/IFACE.confirm (root's own directory, like the lock
/// files), so any process can confirm, revert or see it; the previous generation stays pinned until then.
/// </summary>
/// <param name="Token">Names this change: a timer started for another change of the interface leaves this one alone.</param>
/// <param name="PreviousMeta">fw_meta of the previous generation, as it was (hex), written back on a revert.</param>
public sealed record PendingConfirm(
    [property: JsonPropertyName("interface")] string Interface,
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("deadline_ms")] long DeadlineMs,
    [property: JsonPropertyName("previous_generation")] ulong PreviousGeneration,
    [property: JsonPropertyName("generation")] ulong Generation,
    [property: JsonPropertyName("previous_meta")] string PreviousMeta)
{
    /// <summary>A record is a few hundred bytes; a larger file is not one of ours.</summary>
    private const int MaxBytes = 4096;

    [JsonIgnore]
    public DateTimeOffset Deadline => DateTimeOffset.FromUnixTimeMilliseconds(DeadlineMs);

    public static string PathOf(string iface) => Path.Combine(PinLayout.LockDir, InterfaceName.Checked(iface) + ".confirm");

    internal static PendingConfirm Create(string iface, TimeSpan within, ulong previous, ulong next, FwMeta previousMeta) =>
        new(iface, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            (DateTimeOffset.UtcNow + within).ToUnixTimeMilliseconds(), previous, next, MetaHex(previousMeta));

    /// <summary>The record of the interface as written, or null when there is none (or it is not a record of ours).</summary>
    public static PendingConfirm? Read(string iface)
    {
        string path = PathOf(iface);
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null || info.Length > MaxBytes)
            return null;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            var buffer = new byte[MaxBytes + 1];
            int n = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            var p = n <= MaxBytes ? JsonSerializer.Deserialize<PendingConfirm>(buffer.AsSpan(0, n)) : null;
            return p is not null && p.Interface == iface ? p : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes the record in one rename, mode 0600.</summary>
    internal void Write()
    {
        string path = PathOf(Interface);
        string tmp = $"{path}.{Environment.ProcessId}.tmp";
        File.Delete(tmp);   // a crashed writer's (unlinks, never follows)
        using (var f = new FileStream(tmp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(f, this);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    internal static void Delete(string iface) => File.Delete(PathOf(iface));

    internal FwMeta PreviousMetaValue()
    {
        var bytes = Convert.FromHexString(PreviousMeta);
        if (bytes.Length != System.Runtime.CompilerServices.Unsafe.SizeOf<FwMeta>())
            throw new FormatException($"{PathOf(Interface)}: the previous fw_meta has {bytes.Length} bytes");
        return System.Runtime.InteropServices.MemoryMarshal.Read<FwMeta>(bytes);
    }

    private static string MetaHex(FwMeta meta) =>
        Convert.ToHexStringLower(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<FwMeta>(ref meta)));
}
