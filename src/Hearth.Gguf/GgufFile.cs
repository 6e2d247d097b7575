using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Hearth.Gguf;

/// <summary>
/// A GGUF file opened for reading. The file is memory-mapped: metadata arrays and tensor data
/// are views into the mapping, valid until the file is disposed. Opening validates the whole
/// header; any problem raises <see cref="GgufFormatException"/> with the byte offset.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>The alignment GGUF uses when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    private const int MaxArrayNesting = 8;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private GCHandle _pin;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private int _disposed;

    private GgufFile(string? path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, GCHandle pin, byte* basePtr, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _pin = pin;
        _base = basePtr;
        FileSize = length;
        var parser = new Parser(this, basePtr, length, path);
        parser.Parse(); // on failure the caller releases the mapping
        Version = parser.Version;
        Alignment = parser.Alignment;
        DataOffset = parser.DataOffset;
        Metadata = new GgufMetadata(parser.Entries, path);
        Tensors = parser.Tensors;
        _tensorsByName = parser.TensorsByName;
    }

    /// <summary>The file path, or null when read from memory.</summary>
    public string? Path { get; }

    /// <summary>GGUF version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>Total size of the file in bytes.</summary>
    public long FileSize { get; }

    /// <summary>Alignment of tensor data (<c>general.alignment</c>, default 32).</summary>
    public int Alignment { get; }

    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; }

    /// <summary>Metadata, in file order, with typed accessors for well-known keys.</summary>
    public GgufMetadata Metadata { get; }

    /// <summary>Tensor descriptions in header order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Opens and validates a GGUF file, memory-mapping it read-only.</summary>
    /// <exception cref="GgufFormatException">The file is not valid GGUF; the message names the problem and byte offset.</exception>
    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            var length = fs.Length;
            if (length < 24)
                throw new GgufFormatException($"file is {length} bytes; a GGUF header needs at least 24", length, path);
            map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;
            return new GgufFile(path, map, view, default, ptr, length);
        }
        catch
        {
            if (view is not null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            map?.Dispose();
            fs.Dispose();
            throw;
        }
    }

    /// <summary>Parses GGUF data held in memory. The array is pinned until the file is disposed.</summary>
    /// <exception cref="GgufFormatException">The data is not valid GGUF.</exception>
    public static GgufFile Read(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < 24)
            throw new GgufFormatException($"data is {data.Length} bytes; a GGUF header needs at least 24", data.Length);
        var pin = GCHandle.Alloc(data, GCHandleType.Pinned);
        try
        {
            return new GgufFile(null, null, null, pin, (byte*)pin.AddrOfPinnedObject(), data.Length);
        }
        catch
        {
            pin.Free();
            throw;
        }
    }

    /// <summary>Finds a tensor by name.</summary>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufTensorInfo? tensor) =>
        _tensorsByName.TryGetValue(name, out tensor);

    /// <summary>Finds a tensor by name; throws <see cref="KeyNotFoundException"/> naming it when absent.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Path ?? "GGUF data"}: no tensor named '{name}'.");

    /// <summary>A tensor's bytes, in place in the mapping. Tensors over 2 GiB must be read with <see cref="GetTensorAddress"/> or in slices.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ByteSize > int.MaxValue)
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for one span; read it in slices.");
        return GetBytes(tensor.FileOffset, (int)tensor.ByteSize);
    }

    /// <summary>A slice of a tensor's bytes, in place.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor, long byteOffset, int length)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (byteOffset + length > tensor.ByteSize)
            throw new ArgumentOutOfRangeException(nameof(length), $"Slice [{byteOffset}, {byteOffset + length}) is outside tensor '{tensor.Name}' ({tensor.ByteSize} bytes).");
        return GetBytes(tensor.FileOffset + byteOffset, length);
    }

    /// <summary>Address of a tensor's first byte in the mapping; valid until this file is disposed.</summary>
    public nint GetTensorAddress(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ThrowIfDisposed();
        return (nint)(_base + tensor.FileOffset);
    }

    /// <summary>Bytes of the file, in place.</summary>
    public ReadOnlySpan<byte> GetBytes(long offset, int length)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset + length > FileSize)
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, {offset + length}) is past the end of the file ({FileSize} bytes).");
        return new ReadOnlySpan<byte>(_base + offset, length);
    }

    /// <summary>Unmaps the file. Spans and arrays obtained from it must not be used afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        ReleaseMapping();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void ReleaseMapping()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        if (_pin.IsAllocated)
            _pin.Free();
    }

    /// <summary>A memory window over part of the mapping that refuses access once the file is disposed.</summary>
    private sealed class MappedMemory(GgufFile owner, byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan()
        {
            owner.ThrowIfDisposed();
            return new Span<byte>(pointer, length);
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            owner.ThrowIfDisposed();
            return new MemoryHandle(pointer + elementIndex);
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }

    /// <summary>Validating header parser. Every read checks bounds; every failure names the offset.</summary>
    private sealed class Parser(GgufFile owner, byte* data, long length, string? path)
    {
        private long _pos;

        public uint Version;
        public int Alignment;
        public long DataOffset;
        public List<GgufKeyValue> Entries = [];
        public List<GgufTensorInfo> Tensors = [];
        public Dictionary<string, GgufTensorInfo> TensorsByName = new(StringComparer.Ordinal);

        public void Parse()
        {
            var magic = ReadU32("magic");
            if (magic != Magic)
            {
                throw Error($"not a GGUF file: magic bytes are {data[0]:X2} {data[1]:X2} {data[2]:X2} {data[3]:X2}, expected 47 47 55 46 (\"GGUF\")", 0);
            }
            Version = ReadU32("version");
            if (Version is not (2 or 3))
            {
                if (Version != 0 && (Version & 0xFFFF) == 0 && System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Version) is 1 or 2 or 3)
                    throw Error($"big-endian GGUF (version {System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Version)} byte-swapped) is not supported", 4);
                if (Version == 1)
                    throw Error("GGUF version 1 is not supported (use a converter that writes v2 or v3)", 4);
                throw Error($"unsupported GGUF version {Version}; supported are 2 and 3", 4);
            }

            var tensorCountOffset = _pos;
            var tensorCount = ReadU64("tensor count");
            var kvCountOffset = _pos;
            var kvCount = ReadU64("metadata key/value count");
            // Each tensor info takes at least 8+4+8+4+8 bytes and each key/value at least 8+4+1:
            // counts that cannot fit in the rest of the file are rejected before anything is allocated.
            var remaining = (ulong)(length - _pos);
            if (tensorCount > remaining / 32)
                throw Error($"tensor count {tensorCount} cannot fit in the {remaining} bytes left in the file", tensorCountOffset);
            if (kvCount > remaining / 13)
                throw Error($"metadata key/value count {kvCount} cannot fit in the {remaining} bytes left in the file", kvCountOffset);

            Entries = new List<GgufKeyValue>((int)kvCount);
            var seenKeys = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                var keyOffset = _pos;
                var key = ReadString("metadata key");
                if (key.Length == 0)
                    throw Error($"metadata key #{i} is empty", keyOffset);
                if (!seenKeys.Add(key))
                    throw Error($"duplicate metadata key '{key}'", keyOffset);
                var typeOffset = _pos;
                var typeId = ReadU32($"type of key '{key}'");
                if (!GgufValueTypes.IsKnown(typeId))
                    throw Error($"metadata key '{key}' has unknown value type {typeId}", typeOffset);
                var value = ReadValue((GgufValueType)typeId, key, 0);
                Entries.Add(new GgufKeyValue(key, value, keyOffset));
            }

            Alignment = DefaultAlignment;
            var alignmentEntry = Entries.Find(e => e.Key == "general.alignment");
            if (alignmentEntry is not null)
            {
                if (alignmentEntry.Value.Type != GgufValueType.UInt32)
                    throw Error($"general.alignment must be UInt32, found {alignmentEntry.Value.Type}", alignmentEntry.Offset);
                var a = (uint)alignmentEntry.Value.Bits;
                if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 30)
                    throw Error($"general.alignment is {a}; it must be a power of two", alignmentEntry.Offset);
                Alignment = (int)a;
            }

            Tensors = new List<GgufTensorInfo>((int)tensorCount);
            TensorsByName = new Dictionary<string, GgufTensorInfo>((int)tensorCount, StringComparer.Ordinal);
            for (ulong i = 0; i < tensorCount; i++)
                ReadTensorInfo(i);

            DataOffset = AlignUp(_pos, Alignment);
            if (tensorCount > 0 && DataOffset > length)
                throw Error($"data section would start at {DataOffset}, past the end of the file ({length} bytes)", _pos);

            // Place every tensor and reject data past the end of the file or overlapping another tensor.
            var byOffset = new List<GgufTensorInfo>(Tensors);
            byOffset.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            long previousEnd = 0;
            GgufTensorInfo? previous = null;
            foreach (var t in byOffset)
            {
                var start = DataOffset + t.Offset;
                if (t.Offset > length || start > length || t.ByteSize > length - start)
                    throw Error($"tensor '{t.Name}' data [{start}, {(decimal)start + t.ByteSize}) runs past the end of the file ({length} bytes)", t.InfoOffset);
                if (previous is not null && t.Offset < previousEnd)
                    throw Error($"tensor '{t.Name}' data at relative offset {t.Offset} overlaps tensor '{previous.Name}' (ends at {previousEnd})", t.InfoOffset);
                t.FileOffset = start;
                previousEnd = t.Offset + t.ByteSize;
                previous = t;
            }
        }

        private void ReadTensorInfo(ulong index)
        {
            var infoOffset = _pos;
            var name = ReadString("tensor name");
            if (name.Length == 0)
                throw Error($"tensor #{index} has an empty name", infoOffset);
            var nDimsOffset = _pos;
            var nDims = ReadU32($"dimension count of tensor '{name}'");
            if (nDims > 4)
                throw Error($"tensor '{name}' has {nDims} dimensions; at most 4 are allowed", nDimsOffset);
            var dims = new long[nDims];
            long elements = 1;
            for (var d = 0; d < nDims; d++)
            {
                var dimOffset = _pos;
                var dim = ReadU64($"dimension {d} of tensor '{name}'");
                if (dim > long.MaxValue)
                    throw Error($"tensor '{name}' dimension {d} is {dim}, too large", dimOffset);
                dims[d] = (long)dim;
                if (dims[d] != 0 && elements > long.MaxValue / dims[d])
                    throw Error($"tensor '{name}' has more than 2^63 elements", dimOffset);
                elements *= dims[d];
            }
            var typeOffset = _pos;
            var typeId = ReadU32($"type of tensor '{name}'");
            if (!GgmlTypeTraits.TryGet(typeId, out var traits))
                throw Error($"tensor '{name}' has unknown ggml type id {typeId}", typeOffset);
            var rowLength = nDims == 0 ? 1 : dims[0];
            if (rowLength % traits.BlockSize != 0)
                throw Error($"tensor '{name}' row length {rowLength} is not a multiple of the {traits.Name} block size {traits.BlockSize}", typeOffset);
            var dataOffsetAt = _pos;
            var offset = ReadU64($"data offset of tensor '{name}'");
            if (offset > (ulong)length)
                throw Error($"tensor '{name}' data offset {offset} is past the end of the file ({length} bytes)", dataOffsetAt);
            if (offset % (ulong)Alignment != 0)
                throw Error($"tensor '{name}' data offset {offset} is not a multiple of the alignment {Alignment}", dataOffsetAt);
            var blocks = elements / traits.BlockSize;
            if (blocks > long.MaxValue / traits.TypeSize)
                throw Error($"tensor '{name}' size overflows", typeOffset);
            var info = new GgufTensorInfo(name, traits.Type, dims, (long)offset, elements, blocks * traits.TypeSize, infoOffset);
            if (!TensorsByName.TryAdd(name, info))
                throw Error($"duplicate tensor name '{name}'", infoOffset);
            Tensors.Add(info);
        }

        private GgufValue ReadValue(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.String:
                    return GgufValue.FromString(ReadString($"value of key '{key}'"));
                case GgufValueType.Array:
                    return GgufValue.FromArray(ReadArray(key, depth));
                case GgufValueType.Bool:
                {
                    var at = _pos;
                    var b = ReadBytes(1, $"value of key '{key}'")[0];
                    if (b > 1)
                        throw Error($"metadata key '{key}' has boolean byte {b}; expected 0 or 1", at);
                    return GgufValue.FromBits(type, b);
                }
                default:
                {
                    var size = GgufValueTypes.FixedSize(type);
                    var bytes = ReadBytes(size, $"value of key '{key}'");
                    ulong bits = size switch
                    {
                        1 => bytes[0],
                        2 => Unsafe.ReadUnaligned<ushort>(ref MemoryMarshal.GetReference(bytes)),
                        4 => Unsafe.ReadUnaligned<uint>(ref MemoryMarshal.GetReference(bytes)),
                        _ => Unsafe.ReadUnaligned<ulong>(ref MemoryMarshal.GetReference(bytes)),
                    };
                    return GgufValue.FromBits(type, bits);
                }
            }
        }

        private GgufArray ReadArray(string key, int depth)
        {
            var typeOffset = _pos;
            var elementTypeId = ReadU32($"array element type of key '{key}'");
            if (!GgufValueTypes.IsKnown(elementTypeId))
                throw Error($"array of key '{key}' has unknown element type {elementTypeId}", typeOffset);
            var elementType = (GgufValueType)elementTypeId;
            var countOffset = _pos;
            var count = ReadU64($"array length of key '{key}'");
            var start = _pos;
            SkipArrayPayload(elementType, count, key, depth, countOffset);
            var byteLength = _pos - start;
            if (byteLength > int.MaxValue)
                throw Error($"array of key '{key}' is {byteLength} bytes; at most 2 GiB is supported", countOffset);
            return new GgufArray(elementType, (int)count, new MappedMemory(owner, data + start, (int)byteLength).Memory);
        }

        /// <summary>Validates an array payload and moves past it, without materialising elements.</summary>
        private void SkipArrayPayload(GgufValueType elementType, ulong count, string key, int depth, long countOffset)
        {
            if (depth >= MaxArrayNesting)
                throw Error($"array of key '{key}' nests more than {MaxArrayNesting} levels deep", countOffset);
            var remaining = (ulong)(length - _pos);
            var min = (ulong)GgufValueTypes.MinSize(elementType);
            if (count > int.MaxValue || count > remaining / min)
                throw Error($"array of key '{key}' claims {count} {elementType} elements, more than the {remaining} bytes left can hold", countOffset);
            var fixedSize = GgufValueTypes.FixedSize(elementType);
            if (fixedSize != 0)
            {
                if (elementType == GgufValueType.Bool)
                {
                    for (ulong i = 0; i < count; i++)
                    {
                        if (data[_pos + (long)i] > 1)
                            throw Error($"array of key '{key}' has boolean byte {data[_pos + (long)i]} at element {i}; expected 0 or 1", _pos + (long)i);
                    }
                }
                _pos += (long)count * fixedSize;
                return;
            }
            for (ulong i = 0; i < count; i++)
            {
                if (elementType == GgufValueType.String)
                {
                    // Hot loop for vocabularies (100k+ strings): no message is formatted unless something is wrong.
                    var at = _pos;
                    if (length - _pos < 8)
                        throw Error($"file ends inside the length of string {i} in array of key '{key}'", at);
                    var len = Unsafe.ReadUnaligned<ulong>(data + _pos);
                    _pos += 8;
                    if (len > (ulong)(length - _pos))
                        throw Error($"string {i} in array of key '{key}' has length {len}, past the end of the file", at);
                    _pos += (long)len;
                }
                else
                {
                    var typeAt = _pos;
                    var innerType = ReadU32($"element type of nested array {i} in key '{key}'");
                    if (!GgufValueTypes.IsKnown(innerType))
                        throw Error($"nested array {i} in key '{key}' has unknown element type {innerType}", typeAt);
                    var innerCountAt = _pos;
                    var innerCount = ReadU64($"length of nested array {i} in key '{key}'");
                    SkipArrayPayload((GgufValueType)innerType, innerCount, key, depth + 1, innerCountAt);
                }
            }
        }

        private string ReadString(string what)
        {
            var at = _pos;
            var len = ReadU64($"length of {what}");
            if (len > (ulong)(length - _pos))
                throw Error($"{what} has length {len}, past the end of the file ({length} bytes)", at);
            if (len > int.MaxValue)
                throw Error($"{what} has length {len}; strings over 2 GiB are not supported", at);
            var s = Encoding.UTF8.GetString(data + _pos, (int)len);
            _pos += (long)len;
            return s;
        }

        private uint ReadU32(string what) => Unsafe.ReadUnaligned<uint>(ref MemoryMarshal.GetReference(ReadBytes(4, what)));

        private ulong ReadU64(string what) => Unsafe.ReadUnaligned<ulong>(ref MemoryMarshal.GetReference(ReadBytes(8, what)));

        private ReadOnlySpan<byte> ReadBytes(int count, string what)
        {
            if (length - _pos < count)
                throw Error($"file ends inside the {what}: {count} bytes needed, {length - _pos} left", _pos);
            var span = new ReadOnlySpan<byte>(data + _pos, count);
            _pos += count;
            return span;
        }

        private GgufFormatException Error(string message, long offset) => new(message, offset, path);

        private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;
    }
}
