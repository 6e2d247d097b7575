using System.Runtime.InteropServices;

namespace Hearth.Store;

/// <summary>
/// A cross-process advisory lock on a file (flock on Unix, share modes on Windows), held while the object lives.
/// Shared holders (pulls, imports) coexist; an exclusive holder (gc, rm) excludes everyone. Released by the OS if the
/// process dies, so a killed pull never leaves the store locked.
/// </summary>
internal sealed class StoreLock : IDisposable
{
    private readonly FileStream _stream;

    private StoreLock(FileStream stream, bool waited)
    {
        _stream = stream;
        Waited = waited;
    }

    /// <summary>True when the lock was held by someone else at first and this holder had to wait.</summary>
    public bool Waited { get; }

    public static StoreLock? TryAcquire(string path, bool exclusive)
        => TryOpen(path, exclusive) is { } s ? new StoreLock(s, waited: false) : null;

    public static async Task<StoreLock> AcquireAsync(string path, bool exclusive, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        var waited = false;
        var delay = 20;
        while (true)
        {
            if (TryOpen(path, exclusive) is { } s)
                return new StoreLock(s, waited);
            if (DateTime.UtcNow >= deadline)
                throw new ModelStoreException($"the model store is busy: {path} is locked by another hearth process (a pull, import or gc in progress); try again when it has finished");
            waited = true;
            await Task.Delay(delay, cancellationToken);
            delay = Math.Min(delay * 2, 250);
        }
    }

    private static FileStream? TryOpen(string path, bool exclusive)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            // .NET maps FileShare.None to an exclusive flock and any other share mode (with read-only access) to a
            // shared one; on Windows the share modes themselves give the same exclusion.
            return exclusive
                ? new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
                : new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
        catch (UnauthorizedAccessException) when (OperatingSystem.IsWindows())
        {
            return null;
        }
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>Hard links (no copy) between paths on the same file system.</summary>
internal static partial class FileLinks
{
    /// <summary>Creates <paramref name="link"/> as a hard link to <paramref name="target"/>; false when the file system
    /// cannot (different device, no support, no permission).</summary>
    public static bool TryCreateHardLink(string target, string link)
    {
        if (OperatingSystem.IsWindows())
            return CreateHardLinkW(link, target, 0);
        return Link(target, link) == 0;
    }

    /// <summary>True when both paths are the same file (same device and inode on Unix).</summary>
    public static bool SameFile(string a, string b)
    {
        if (OperatingSystem.IsWindows())
            return string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.OrdinalIgnoreCase);
        return Inode(a) is { } x && Inode(b) is { } y && x == y;
    }

    /// <summary>(device, inode) of a file on Unix; null when it cannot be read.</summary>
    public static (ulong Device, ulong Inode)? Inode(string path)
    {
        if (OperatingSystem.IsWindows())
            return null;
        // libc stat(2): on Linux x64 and arm64 st_dev and st_ino are the first two 8-byte fields; other platforms
        // have other layouts, so they answer "unknown" rather than guess.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
            return null;
        var buffer = new byte[256];
        if (Stat(path, buffer) != 0)
            return null;
        return (BitConverter.ToUInt64(buffer, 0), BitConverter.ToUInt64(buffer, 8));
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, [Out] byte[] buffer);

    [LibraryImport("kernel32.dll", EntryPoint = "CreateHardLinkW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CreateHardLinkW(string link, string target, nint securityAttributes);
}
