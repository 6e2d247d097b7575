using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Hearth.Engine.Kernels;
using Hearth.Engine.Model;
using Hearth.Gguf;

namespace Hearth.Factory;

/// <summary>Progress of a quantization: reported after every chunk of rows.</summary>
/// <param name="TensorIndex">0-based index of the tensor being written.</param>
/// <param name="TensorCount">Number of tensors.</param>
/// <param name="TensorName">Its name.</param>
/// <param name="BytesDone">Source bytes processed so far (all tensors).</param>
/// <param name="BytesTotal">Source bytes of all tensors.</param>
internal sealed record QuantizeProgress(int TensorIndex, int TensorCount, string TensorName, long BytesDone, long BytesTotal);

/// <summary>What a quantization wrote.</summary>
/// <param name="FileType">The target file type.</param>
/// <param name="Tensors">Every tensor's source and target type, in output order.</param>
/// <param name="SourceBytes">Tensor bytes in the source.</param>
/// <param name="OutputBytes">Tensor bytes in the output.</param>
/// <param name="OutputFileSize">Size of the written file.</param>
/// <param name="Threads">Worker threads used.</param>
/// <param name="Elapsed">Wall time.</param>
internal sealed record QuantizeResult(QuantizeFileType FileType, IReadOnlyList<TensorPlan> Tensors, long SourceBytes, long OutputBytes, long OutputFileSize, int Threads, TimeSpan Elapsed);

/// <summary>
/// <c>llama-quantize</c> in managed code: reads a GGUF model, chooses each tensor's type with llama.cpp's mix rules
/// (<see cref="QuantizeMix"/>), quantizes with ggml's reference quantizers (<see cref="GgmlQuantize"/>) and writes the
/// file exactly as llama-quantize does: the source's metadata in order with <c>general.quantization_version</c> = 2 and
/// <c>general.file_type</c> moved to the end, split keys removed, tensors in llama-quantize's order, 32-byte aligned.
/// Streams one chunk of rows at a time (memory does not grow with the model), rows quantized in parallel; the
/// output does not depend on the thread count.
/// </summary>
internal static class ModelQuantizer
{
    /// <summary>Quantization format version written to general.quantization_version (ggml's GGML_QNT_VERSION).</summary>
    public const uint QuantizationVersion = 2;

    // Output bytes produced per chunk before it is written: bounds memory whatever the tensor size.
    private const int ChunkOutputBytes = 16 << 20;

    // Rows handed to one worker at a time: enough elements that scheduling costs nothing next to the work.
    private const int MinElementsPerBatch = 32 * 512;

    /// <summary>Plans the tensors of <paramref name="source"/> without writing anything (what quantize would do).</summary>
    /// <exception cref="InvalidDataException">A tensor cannot be converted; the message names it.</exception>
    public static List<TensorPlan> Plan(GgufFile source, QuantizeFileType fileType, QuantizeOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Plan(source.Metadata, source.Tensors, fileType, options);
    }

    private static List<TensorPlan> Plan(GgufMetadata metadata, IEnumerable<GgufTensorInfo> tensors, QuantizeFileType fileType, QuantizeOptions options)
    {
        ArgumentNullException.ThrowIfNull(fileType);
        ArgumentNullException.ThrowIfNull(options);
        var facts = QuantizeModelFacts.From(metadata);
        var ordered = QuantizeMix.OrderTensors(tensors);
        var plans = QuantizeMix.Plan(fileType, options, facts, ordered);
        for (var i = 0; i < plans.Count; i++)
            Check(ordered[i], plans[i], options);
        return plans;
    }

    /// <summary>Quantizes <paramref name="inputPath"/> into <paramref name="outputPath"/> (written atomically).</summary>
    /// <exception cref="InvalidDataException">A tensor cannot be converted (unsupported source type, shape, non-finite values); the message names it.</exception>
    public static QuantizeResult Quantize(string inputPath, string outputPath, QuantizeFileType fileType, QuantizeOptions options,
        IProgress<QuantizeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentNullException.ThrowIfNull(fileType);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        var clock = Stopwatch.StartNew();
        using var source = GgufFile.Open(inputPath);
        // A split input (gguf-split parts next to the first) is read whole and written as one file, as llama-quantize does.
        OtherParts rest;
        try
        {
            rest = SplitParts.OpenRest(source);
        }
        catch (ModelLoadException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
        using var parts = rest;
        var owner = new Dictionary<string, GgufFile>(StringComparer.Ordinal);
        foreach (var part in rest.Files.Prepend(source))
        {
            foreach (var t in part.Tensors)
            {
                if (!owner.TryAdd(t.Name, part))
                    throw new InvalidDataException($"{part.Path}: tensor '{t.Name}' is also in {owner[t.Name].Path}.");
            }
        }
        var all = rest.Files.Prepend(source).SelectMany(p => p.Tensors).ToList();
        var plans = Plan(source.Metadata, all, fileType, options);
        var ordered = QuantizeMix.OrderTensors(all);
        var threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;

        var writer = new GgufWriter();
        foreach (var kv in source.Metadata)
            writer.SetMetadata(kv.Key, kv.Value);
        // llama-quantize sets these two last, and setting an existing key moves it to the end.
        writer.RemoveMetadata("general.quantization_version");
        writer.SetMetadata("general.quantization_version", GgufValue.FromUInt32(QuantizationVersion));
        writer.RemoveMetadata("general.file_type");
        writer.SetMetadata("general.file_type", GgufValue.FromUInt32((uint)fileType.Id));
        writer.RemoveMetadata("split.no");
        writer.RemoveMetadata("split.count");
        writer.RemoveMetadata("split.tensors.count");

        var totalBytes = ordered.Sum(t => t.ByteSize);
        long done = 0;
        long outputBytes = 0;
        for (var i = 0; i < ordered.Count; i++)
        {
            var tensor = ordered[i];
            var plan = plans[i];
            var index = i;
            var dims = tensor.Dimensions.Take(QuantizeMix.DimensionCount(tensor.Dimensions)).ToArray();
            outputBytes += GgmlTypeTraits.Get(plan.Target).RowBytes(tensor.RowLength) * tensor.RowCount;
            writer.AddTensor(tensor.Name, plan.Target, dims, stream =>
            {
                var start = done;
                WriteTensor(owner[tensor.Name], tensor, plan.Target, stream, threads, rowsDone =>
                {
                    done = start + rowsDone * tensor.RowBytes;
                    progress?.Report(new QuantizeProgress(index, ordered.Count, tensor.Name, done, totalBytes));
                }, cancellationToken);
                done = start + tensor.ByteSize;
                progress?.Report(new QuantizeProgress(index, ordered.Count, tensor.Name, done, totalBytes));
            });
        }
        writer.WriteTo(outputPath);
        clock.Stop();
        return new QuantizeResult(fileType, plans, totalBytes, outputBytes, new FileInfo(outputPath).Length, threads, clock.Elapsed);
    }

    private static void Check(GgufTensorInfo t, TensorPlan plan, QuantizeOptions options)
    {
        if (plan.Target == plan.Source)
            return;
        var src = GgmlTypeTraits.Get(plan.Source);
        var dst = GgmlTypeTraits.Get(plan.Target);
        if (src.IsQuantized && !options.AllowRequantize)
            throw new InvalidDataException($"Tensor '{t.Name}' is {src.Name}; requantizing from {src.Name} to {dst.Name} is disabled (pass --allow-requantize, or quantize from an F32/F16/BF16 model).");
        if (!src.CanDequantize)
            throw new InvalidDataException($"Tensor '{t.Name}' has type {src.Name}, which cannot be converted (supported source types: f32, f16, bf16{(options.AllowRequantize ? ", and with --allow-requantize q4_0, q4_1, q5_0, q5_1, q8_0, q2_K..q6_K, iq4_nl, iq4_xs" : "")}).");
        if (!GgmlQuantize.IsSupported(plan.Target))
            throw new InvalidDataException($"Tensor '{t.Name}' would become {dst.Name}, which Hearth cannot write; supported: {string.Join(", ", GgmlQuantize.SupportedTypes.Select(x => GgmlTypeTraits.Get(x).Name))}.");
        if (t.RowLength % dst.BlockSize != 0)
            throw new InvalidDataException($"Tensor '{t.Name}': row length {t.RowLength} is not a multiple of the {dst.Name} block size {dst.BlockSize}.");
        if (t.RowLength > int.MaxValue / 4)
            throw new InvalidDataException($"Tensor '{t.Name}': row length {t.RowLength} is too large.");
    }

    private static void WriteTensor(GgufFile source, GgufTensorInfo tensor, GgmlType target, Stream stream, int threads,
        Action<long> rowsDone, CancellationToken cancellationToken)
    {
        if (target == tensor.Type)
        {
            // Unchanged: copy the bytes through in slices.
            const int Chunk = 1 << 24;
            for (long off = 0; off < tensor.ByteSize; off += Chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                stream.Write(source.GetTensorData(tensor, off, (int)Math.Min(Chunk, tensor.ByteSize - off)));
            }
            return;
        }

        var rowLength = (int)tensor.RowLength;
        var rows = tensor.RowCount;
        var inRowBytes = (int)tensor.RowBytes;
        var outRowBytes = (int)GgmlTypeTraits.Get(target).RowBytes(rowLength);
        var rowsPerChunk = (int)Math.Clamp(ChunkOutputBytes / Math.Max(1, outRowBytes), 1, rows);
        var rowsPerBatch = Math.Max(1, MinElementsPerBatch / rowLength);
        var buffer = ArrayPool<byte>.Shared.Rent(rowsPerChunk * outRowBytes);
        try
        {
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken };
            for (long first = 0; first < rows; first += rowsPerChunk)
            {
                var chunkRows = (int)Math.Min(rowsPerChunk, rows - first);
                var batches = (chunkRows + rowsPerBatch - 1) / rowsPerBatch;
                var chunkFirst = first;
                try
                {
                    Parallel.For(0, batches, parallel,
                        () => tensor.Type == GgmlType.F32 ? (float[]?)null : new float[rowLength],
                        (b, _, scratch) =>
                        {
                            var end = Math.Min(chunkRows, (b + 1) * rowsPerBatch);
                            for (var r = b * rowsPerBatch; r < end; r++)
                            {
                                var row = chunkFirst + r;
                                var bytes = source.GetTensorData(tensor, row * inRowBytes, inRowBytes);
                                ReadOnlySpan<float> x;
                                if (scratch is null)
                                {
                                    x = MemoryMarshal.Cast<byte, float>(bytes);
                                }
                                else
                                {
                                    GgmlDequantize.Dequantize(tensor.Type, bytes, scratch);
                                    x = scratch;
                                }
                                var bad = GgmlQuantize.IndexOfNonFinite(x);
                                if (bad >= 0)
                                    throw new InvalidDataException($"Tensor '{tensor.Name}' row {row} holds a non-finite value ({x[bad]}) at column {bad}; it cannot be quantized.");
                                GgmlQuantize.Quantize(target, x, buffer.AsSpan(r * outRowBytes, outRowBytes));
                            }
                            return scratch;
                        },
                        _ => { });
                }
                catch (AggregateException ex) when (ex.InnerExceptions.Count > 0 && ex.InnerExceptions[0] is InvalidDataException or OperationCanceledException)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
                    throw;
                }
                stream.Write(buffer, 0, chunkRows * outRowBytes);
                rowsDone(first + chunkRows);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Refuses part 1 of a split model where a tool reads a single file (merge, bundle), saying how to join it.</summary>
    internal static void RefuseSplit(GgufFile file, string tool)
    {
        if (file.Metadata.GetInteger(SplitParts.CountKey) is > 1 and var count)
            throw new InvalidDataException($"{file.Path}: part of a {count}-part split model; {tool} needs the model as one file: join it first with 'hearth factory quantize {file.Path} JOINED.gguf --type F16' (or the type it has), which reads every part.");
    }
}
