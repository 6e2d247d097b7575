using System.Buffers.Binary;
using System.Text;

namespace Hearth.Gguf;

/// <summary>
/// Writes GGUF v3 (or v2) files: metadata in insertion order, tensor infos, then tensor data,
/// each tensor aligned to <c>general.alignment</c> (default 32) and padded with zeros, as ggml does.
/// Tensor data can come from memory, from another mapped GGUF file, or from a callback that
/// streams it, so files larger than memory can be written one tensor at a time.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<GgufKeyValue> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    /// <summary>GGUF version to write: 3 (default) or 2, which share one encoding.</summary>
    public uint Version { get; init; } = 3;

    /// <summary>Metadata in the order it will be written.</summary>
    public IReadOnlyList<GgufKeyValue> Metadata => _metadata;

    /// <summary>Names of the tensors in the order they will be written.</summary>
    public IEnumerable<string> TensorNames => _tensors.Select(t => t.Name);

    /// <summary>Creates a writer holding every key and tensor of <paramref name="source"/> in its order; writing it reproduces the file.</summary>
    public static GgufWriter FromFile(GgufFile source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var writer = new GgufWriter { Version = source.Version };
        foreach (var kv in source.Metadata)
            writer.SetMetadata(kv.Key, kv.Value);
        foreach (var t in source.Tensors)
            writer.AddTensor(source, t);
        return writer;
    }

    /// <summary>Sets a key; a key already present keeps its position.</summary>
    public void SetMetadata(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        var i = _metadata.FindIndex(e => e.Key == key);
        if (i >= 0)
            _metadata[i] = new GgufKeyValue(key, value);
        else
            _metadata.Add(new GgufKeyValue(key, value));
    }

    /// <summary>Removes a key; returns whether it was present.</summary>
    public bool RemoveMetadata(string key) => _metadata.RemoveAll(e => e.Key == key) > 0;

    /// <summary>Adds a tensor whose bytes are in memory.</summary>
    public void AddTensor(string name, GgmlType type, IReadOnlyList<long> dimensions, ReadOnlyMemory<byte> data)
    {
        var size = CheckTensor(name, type, dimensions);
        if (data.Length != size)
            throw new ArgumentException($"Tensor '{name}' needs {size} bytes of {GgmlTypeTraits.Get(type).Name} data, got {data.Length}.", nameof(data));
        Add(new PendingTensor(name, type, [.. dimensions], size, s => s.Write(data.Span)));
    }

    /// <summary>Adds a tensor whose bytes <paramref name="writeData"/> streams when the file is written; it must write exactly the tensor's size.</summary>
    public void AddTensor(string name, GgmlType type, IReadOnlyList<long> dimensions, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        var size = CheckTensor(name, type, dimensions);
        Add(new PendingTensor(name, type, [.. dimensions], size, writeData));
    }

    /// <summary>Adds a tensor copied from another open GGUF file when written (the source must stay open until then).</summary>
    public void AddTensor(GgufFile source, GgufTensorInfo tensor, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(tensor);
        name ??= tensor.Name;
        var size = CheckTensor(name, tensor.Type, tensor.Dimensions);
        Add(new PendingTensor(name, tensor.Type, [.. tensor.Dimensions], size, s =>
        {
            const int Chunk = 1 << 26;
            for (long off = 0; off < tensor.ByteSize; off += Chunk)
                s.Write(source.GetTensorData(tensor, off, (int)Math.Min(Chunk, tensor.ByteSize - off)));
        }));
    }

    /// <summary>Removes a tensor; returns whether it was present.</summary>
    public bool RemoveTensor(string name)
    {
        if (!_tensorNames.Remove(name))
            return false;
        _tensors.RemoveAll(t => t.Name == name);
        return true;
    }

    /// <summary>Writes the file to <paramref name="path"/> atomically: a temporary file in the same folder, renamed into place when complete.</summary>
    public void WriteTo(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        var temp = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(full) + ".tmp-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                WriteTo(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes the file to a stream.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (Version is not (2 or 3))
            throw new InvalidOperationException($"GGUF version {Version} cannot be written; use 2 or 3.");
        var alignment = GetAlignment();
        var counter = new CountingStream(stream);
        using var w = new BinaryWriter(counter, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var kv in _metadata)
        {
            WriteString(w, kv.Key);
            w.Write((uint)kv.Value.Type);
            WriteValue(w, kv.Value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dimensions.Length);
            foreach (var d in t.Dimensions)
                w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = AlignUp(offset + t.ByteSize, alignment);
        }
        w.Flush();
        // A file without tensors ends right after its header (that is what ggml's tools write).
        if (_tensors.Count > 0)
            Pad(counter, alignment);
        foreach (var t in _tensors)
        {
            var start = counter.Written;
            t.WriteData(counter);
            var written = counter.Written - start;
            if (written != t.ByteSize)
                throw new InvalidOperationException($"Tensor '{t.Name}': the data callback wrote {written} bytes, expected {t.ByteSize}.");
            Pad(counter, alignment);
        }
        counter.Flush();
    }

    private int GetAlignment()
    {
        var kv = _metadata.Find(e => e.Key == "general.alignment");
        if (kv is null)
            return GgufFile.DefaultAlignment;
        if (kv.Value.Type != GgufValueType.UInt32)
            throw new InvalidOperationException($"general.alignment must be UInt32, found {kv.Value.Type}.");
        var a = kv.Value.AsInt64();
        if (a <= 0 || (a & (a - 1)) != 0)
            throw new InvalidOperationException($"general.alignment is {a}; it must be a power of two.");
        return (int)a;
    }

    private long CheckTensor(string name, GgmlType type, IReadOnlyList<long> dimensions)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dimensions);
        if (_tensorNames.Contains(name))
            throw new ArgumentException($"A tensor named '{name}' was already added.", nameof(name));
        if (dimensions.Count is < 1 or > 4)
            throw new ArgumentException($"Tensor '{name}' has {dimensions.Count} dimensions; 1 to 4 are allowed.", nameof(dimensions));
        var traits = GgmlTypeTraits.Get(type);
        long elements = 1;
        foreach (var d in dimensions)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dimensions));
            elements = checked(elements * d);
        }
        if (dimensions[0] % traits.BlockSize != 0)
            throw new ArgumentException($"Tensor '{name}' row length {dimensions[0]} is not a multiple of the {traits.Name} block size {traits.BlockSize}.", nameof(dimensions));
        return traits.RowBytes(elements);
    }

    private void Add(PendingTensor t)
    {
        _tensorNames.Add(t.Name);
        _tensors.Add(t);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.String:
                WriteString(w, v.AsString());
                break;
            case GgufValueType.Array:
                var a = v.AsArray();
                w.Write((uint)a.ElementType);
                w.Write((ulong)a.Count);
                w.Write(a.RawBytes);
                break;
            default:
                Span<byte> buf = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(buf, v.Bits);
                w.Write(buf[..GgufValueTypes.FixedSize(v.Type)]);
                break;
        }
    }

    private static void Pad(CountingStream s, int alignment)
    {
        var pad = (int)(AlignUp(s.Written, alignment) - s.Written);
        if (pad > 0)
            s.Write(new byte[pad]);
    }

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Dimensions, long ByteSize, Action<Stream> WriteData);

    /// <summary>Write-only pass-through that counts bytes, so positions work on non-seekable streams.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Written += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }
    }
}
