using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LeNet.Core.Files;

/// <summary>
/// The one way the program reads a file that a user names: only a regular file (links resolved) is opened, and never
/// more than a bound suited to its kind is read, so a FIFO cannot hang a run and <c>/dev/zero</c> cannot fill memory.
/// Refusals are <see cref="FileRefusedException"/>s, an <see cref="IOException"/> whose message completes
/// "cannot be read (…)", which every reader already says.
/// </summary>
public static partial class ReadableFile
{
    /// <summary>Opens <paramref name="path"/> for reading once it is known to be a regular file of at most
    /// <paramref name="maxBytes"/>.</summary>
    public static FileStream Open(string path, long maxBytes, int bufferSize = 1 << 16)
    {
        Check(path, maxBytes);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
        // Checked again on the open file: the path may have been swapped for something else in between.
        if (stream.Length > maxBytes)
        {
            stream.Dispose();
            throw TooLarge(stream.Length, maxBytes);
        }
        return stream;
    }

    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        using var stream = Open(path, maxBytes, bufferSize: 1);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        if (stream.ReadByte() >= 0) throw new FileRefusedException("it grew while it was read");
        return bytes;
    }

    public static string ReadAllText(string path, long maxBytes) =>
        new StreamReader(new MemoryStream(ReadAllBytes(path, maxBytes))).ReadToEnd();

    /// <summary>Throws unless <paramref name="path"/> names (through any links) a regular file of at most
    /// <paramref name="maxBytes"/>; a missing file is a <see cref="FileNotFoundException"/>.</summary>
    public static void Check(string path, long maxBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path)) throw new FileRefusedException("it is a folder, not a file");
        if (!File.Exists(path)) throw new FileNotFoundException("there is no such file", path);
        if (Kind(path) is { } kind && kind != FileKind.Regular)
            throw new FileRefusedException($"it is {Describe(kind)}, not a regular file");
        var length = new FileInfo(File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path).Length;
        if (length > maxBytes) throw TooLarge(length, maxBytes);
    }

    private static FileRefusedException TooLarge(long length, long maxBytes) =>
        new($"it holds {length:N0} bytes, more than the {maxBytes:N0} a file of its kind may have");

    public enum FileKind { Regular, Directory, Fifo, CharacterDevice, BlockDevice, Socket, Link, Other }

    private static string Describe(FileKind kind) => kind switch
    {
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "not a regular file",
    };

    /// <summary>The kind of what <paramref name="path"/> names, links followed unless <paramref name="followLinks"/>
    /// is false (then a link is <see cref="FileKind.Link"/>); null where it does not exist or the system cannot say (no
    /// statx: not Linux). .NET tells files from folders only, so Linux's statx, whose layout is the same on every
    /// architecture, gives the type bits of st_mode.</summary>
    public static FileKind? Kind(string path, bool followLinks = true) =>
        Stat(AtCurrentDirectory, path, followLinks ? 0 : AtSymlinkNoFollow) is { } stat ? stat.Kind : null;

    /// <summary>The device and inode of what <paramref name="path"/> names (links followed unless
    /// <paramref name="followLinks"/> is false), which tell two spellings of one file; null as for
    /// <see cref="Kind"/>.</summary>
    public static (ulong Device, ulong Inode)? Identity(string path, bool followLinks = true) =>
        Stat(AtCurrentDirectory, path, followLinks ? 0 : AtSymlinkNoFollow) is { } stat ? stat.Identity : null;

    /// <summary>The device and inode of the file <paramref name="handle"/> has open.</summary>
    public static (ulong Device, ulong Inode)? Identity(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return Stat((int)handle.DangerousGetHandle(), "", AtEmptyPath) is { } stat ? stat.Identity : null;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static (FileKind Kind, (ulong, ulong) Identity)? Stat(int directory, string path, int flags)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> buffer = stackalloc byte[256];
        try
        {
            unsafe
            {
                fixed (byte* statx = buffer)
                    if (Statx(directory, path, flags, StatxType | StatxInode, statx) != 0) return null;
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
        var mode = BitConverter.ToUInt16(buffer[28..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            0xA000 => FileKind.Link,
            _ => FileKind.Other,
        };
        // stx_ino at 32; stx_dev_major and stx_dev_minor at 136 and 140.
        var device = (ulong)BitConverter.ToUInt32(buffer[136..]) << 32 | BitConverter.ToUInt32(buffer[140..]);
        return (kind, (device, BitConverter.ToUInt64(buffer[32..])));
    }

    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const uint StatxType = 1, StatxInode = 0x100;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}

/// <summary>A file the program refuses to read: not a regular file, or larger than its kind allows.</summary>
public sealed class FileRefusedException(string message) : IOException(message);
