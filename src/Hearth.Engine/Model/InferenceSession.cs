using System.Runtime.InteropServices;
using Hearth.Engine.Generation;
using Hearth.Engine.Kernels;
using Hearth.Engine.Runtime;

namespace Hearth.Engine.Model;

/// <summary>Element type of the KV cache.</summary>
internal enum KvCacheType
{
    /// <summary>float32 (what the reference vectors were made with).</summary>
    F32,
    /// <summary>IEEE half: half the memory, slightly different logits.</summary>
    F16,
}

/// <summary>Sizes and threading of an <see cref="InferenceSession"/>.</summary>
internal sealed record SessionOptions
{
    /// <summary>Positions the KV cache holds; 0 = the model's context length, capped at 4096.</summary>
    public int ContextLength { get; init; }

    /// <summary>Tokens per forward chunk when evaluating a prompt (matrix-matrix products).</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Threads, the caller included; 0 = physical cores.</summary>
    public int Threads { get; init; }

    /// <summary>KV cache element type.</summary>
    public KvCacheType KvCache { get; init; } = KvCacheType.F32;

    /// <summary>How many positions' logits one <see cref="InferenceSession.Evaluate"/> call can return (1 = last only).</summary>
    public int LogitRows { get; init; } = 1;

    /// <summary>LoRA adapters applied to every product of an adapted weight (null: the base model).</summary>
    public LoraSet? Adapters { get; init; }
}

/// <summary>
/// Run state for one sequence (llama2.c's <c>RunState</c>): activation buffers, converted-activation
/// buffers, RoPE tables and the KV cache, all allocated once, natively and 64-byte aligned, when the
/// session is created. <see cref="Evaluate"/> runs the forward pass — a prompt in chunks of
/// <see cref="SessionOptions.BatchSize"/> tokens, generation one token at a time — without allocating.
/// Not thread-safe: one session per concurrent sequence; the model is shared.
/// </summary>
internal sealed unsafe class InferenceSession : IDisposable
{
    private readonly TransformerModel _model;
    private readonly ModelConfig _c;
    private readonly ModelWeights _w;
    private readonly WorkerPool _pool;
    private readonly bool _ownsPool;
    private readonly MatMulJob _matmul = new();
    private readonly AttentionJob _attention;
    private readonly List<nint> _allocations = [];
    private readonly nint[] _activations = new nint[6];
    private readonly float* _x, _xb, _q, _k, _v, _att, _tmp, _gate, _up, _logits, _ropeCos, _ropeSin, _scores;
    private readonly byte* _kCache, _vCache;
    private readonly int _logitRows;
    private readonly LoraSet? _lora;
    private readonly byte* _loraIn, _loraMidIn;
    private readonly float* _loraMid, _loraOut;
    private bool _disposed;

    public InferenceSession(TransformerModel model, SessionOptions? options = null, WorkerPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new SessionOptions();
        _model = model;
        _c = model.Config;
        _w = model.Weights;
        ContextLength = options.ContextLength > 0 ? options.ContextLength : Math.Min(_c.ContextLength, 4096);
        BatchSize = Math.Max(1, Math.Min(options.BatchSize, ContextLength));
        _logitRows = Math.Max(1, options.LogitRows);
        KvCache = options.KvCache;
        if (pool is null)
        {
            _pool = new WorkerPool(options.Threads > 0 ? options.Threads : WorkerPool.DefaultThreadCount);
            _ownsPool = true;
        }
        else
        {
            _pool = pool;
        }

        var b = BatchSize;
        var maxCols = Math.Max(Math.Max(_c.EmbeddingLength, _c.AttentionWidth), _c.FeedForwardLength);
        _x = Floats((long)b * _c.EmbeddingLength);
        _xb = Floats((long)b * maxCols);
        _q = Floats((long)b * _c.QueryWidth);
        _k = Floats((long)b * _c.KeyWidth);
        _v = Floats((long)b * _c.ValueWidth);
        _att = Floats((long)b * _c.AttentionWidth);
        _tmp = Floats((long)b * _c.EmbeddingLength);
        _gate = Floats((long)b * _c.FeedForwardLength);
        _up = Floats((long)b * _c.FeedForwardLength);
        _logits = Floats((long)_logitRows * _c.VocabSize);
        _scores = Floats((long)_pool.ThreadCount * ContextLength);
        var half = _c.RopeDimensionCount / 2;
        _ropeCos = Floats((long)ContextLength * half);
        _ropeSin = Floats((long)ContextLength * half);
        Blocks.RopeTables(_ropeCos, _ropeSin, ContextLength, _c.RopeDimensionCount, _c.RopeFreqBase, _c.RopeFreqScale, _w.RopeFrequencyFactors);

        var paddedCols = (maxCols + 255) / 256 * 256;
        foreach (var type in NeededActivationTypes())
        {
            if (type != ActivationType.F32)
                _activations[(int)type] = (nint)Bytes((long)b * ActivationQuantizer.RowBytes(type, paddedCols));
        }

        var kvElement = KvCache == KvCacheType.F32 ? 4 : 2;
        _kCache = Bytes((long)_c.LayerCount * ContextLength * _c.KeyWidth * kvElement);
        _vCache = Bytes((long)_c.LayerCount * ContextLength * _c.ValueWidth * kvElement);
        _attention = new AttentionJob(this);

        _lora = options.Adapters;
        if (_lora is not null)
        {
            // Scratch for s·B(A·x): the input converted for A, A·x (r per token) and converted for B, B·(A·x).
            var maxOut = _lora.Adapters.SelectMany(a => a.Adapter.Pairs.Values).Max(p => p.B.Rows);
            _loraIn = Bytes((long)b * maxCols * 4);
            _loraMid = Floats((long)b * _lora.MaxRank);
            _loraMidIn = Bytes((long)b * _lora.MaxRank * 4);
            _loraOut = Floats((long)b * maxOut);
        }
    }

    /// <summary>The adapters this session applies, or null.</summary>
    public LoraSet? Adapters => _lora;

    /// <summary>The model.</summary>
    public TransformerModel Model => _model;

    /// <summary>Positions the KV cache holds.</summary>
    public int ContextLength { get; }

    /// <summary>Tokens per forward chunk.</summary>
    public int BatchSize { get; }

    /// <summary>KV cache element type.</summary>
    public KvCacheType KvCache { get; }

    /// <summary>Threads per product.</summary>
    public int Threads => _pool.ThreadCount;

    /// <summary>Tokens in the KV cache (the position of the next token).</summary>
    public int Position { get; private set; }

    /// <summary>Forgets cached positions from <paramref name="position"/> on (0 = start over).</summary>
    public void Rewind(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        Position = position;
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> at the current position and returns logits: the last token's
    /// (vocab values) or, with <paramref name="allPositions"/>, every token's (tokens × vocab, needs
    /// <see cref="SessionOptions.LogitRows"/> ≥ tokens). The span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Evaluate(scoped ReadOnlySpan<int> tokens, bool allPositions = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckTokens(tokens);
        if (allPositions && tokens.Length > _logitRows)
            throw new ArgumentException($"Logits for {tokens.Length} positions were asked for but the session keeps {_logitRows} rows (SessionOptions.LogitRows).", nameof(tokens));
        for (var start = 0; start < tokens.Length; start += BatchSize)
        {
            var chunk = tokens.Slice(start, Math.Min(BatchSize, tokens.Length - start));
            var last = start + chunk.Length == tokens.Length;
            Forward(chunk, allPositions ? start : -1, last);
        }
        return allPositions
            ? new ReadOnlySpan<float>(_logits, tokens.Length * _c.VocabSize)
            : new ReadOnlySpan<float>(_logits, _c.VocabSize);
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> at the current position and pools their final hidden states (after the output
    /// norm, as llama.cpp's embeddings) into <paramref name="destination"/> (embedding-length values, not normalized):
    /// the mean over the tokens, the first token's or the last token's. No logits are computed.
    /// </summary>
    public void Embed(scoped ReadOnlySpan<int> tokens, PoolingType pooling, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.Length != _c.EmbeddingLength)
            throw new ArgumentException($"The destination holds {destination.Length} values; the embedding has {_c.EmbeddingLength}.", nameof(destination));
        CheckTokens(tokens);
        destination.Clear();
        var e = _c.EmbeddingLength;
        for (var start = 0; start < tokens.Length; start += BatchSize)
        {
            var chunk = tokens.Slice(start, Math.Min(BatchSize, tokens.Length - start));
            Forward(chunk, -1, lastChunk: false);
            var n = chunk.Length;
            // Rows of this chunk that the pooling uses, normed into _xb.
            var (from, to) = pooling switch
            {
                PoolingType.Mean => (0, n),
                PoolingType.Cls => start == 0 ? (0, 1) : (0, 0),
                _ => start + n == tokens.Length ? (n - 1, n) : (0, 0),
            };
            for (var t = from; t < to; t++)
            {
                Blocks.RmsNorm(_x + t * e, _w.OutputNorm, _xb, e, _c.RmsEpsilon);
                for (var i = 0; i < e; i++)
                    destination[i] += _xb[i];
            }
        }
        if (pooling == PoolingType.Mean)
        {
            var inv = 1f / tokens.Length;
            for (var i = 0; i < e; i++)
                destination[i] *= inv;
        }
    }

    // What Evaluate and Embed require of their tokens: some, room in the context, ids in the vocabulary.
    private void CheckTokens(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty)
            throw new ArgumentException("At least one token is needed.", nameof(tokens));
        if (Position + tokens.Length > ContextLength)
            throw new InvalidOperationException($"The context holds {ContextLength} tokens; {Position} are used and {tokens.Length} more were given.");
        foreach (var t in tokens)
        {
            if ((uint)t >= (uint)_c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id {t} is outside the vocabulary (0..{_c.VocabSize - 1}).");
        }
    }

    // One chunk: logitRow >= 0 writes every position's logits from that row on; otherwise only the
    // chunk's last position, and only when it is the prompt's last chunk.
    private void Forward(ReadOnlySpan<int> tokens, int logitRow, bool lastChunk)
    {
        var c = _c;
        var n = tokens.Length;
        var e = c.EmbeddingLength;
        for (var t = 0; t < n; t++)
            _w.TokenEmbedding.DequantizeRow(tokens[t], new Span<float>(_x + t * e, e));

        for (var l = 0; l < c.LayerCount; l++)
        {
            var layer = _w.Layers[l];
            for (var t = 0; t < n; t++)
                Blocks.RmsNorm(_x + t * e, layer.AttentionNorm, _xb + t * e, e, c.RmsEpsilon);
            Project(_xb, e, n, layer.Query, _q, layer.Key, _k, layer.Value, _v);
            _model.Architecture.AfterProjection(layer, c, _q, _k, _v, n);
            var half = c.RopeDimensionCount / 2;
            for (var t = 0; t < n; t++)
            {
                var pos = Position + t;
                Blocks.Rope(_q + t * c.QueryWidth, c.HeadCount, c.KeyLength, c.RopeDimensionCount, _ropeCos + pos * half, _ropeSin + pos * half, c.Rope);
                Blocks.Rope(_k + t * c.KeyWidth, c.HeadCountKv, c.KeyLength, c.RopeDimensionCount, _ropeCos + pos * half, _ropeSin + pos * half, c.Rope);
                StoreKv(l, pos, _k + t * c.KeyWidth, _v + t * c.ValueWidth);
            }
            _attention.Set(l, n);
            _pool.Run(_attention);
            Project(_att, c.AttentionWidth, n, layer.Output, _tmp);
            Blocks.AddInPlace(_x, _tmp, n * e);

            for (var t = 0; t < n; t++)
                Blocks.RmsNorm(_x + t * e, layer.FeedForwardNorm, _xb + t * e, e, c.RmsEpsilon);
            Project(_xb, e, n, layer.Gate, _gate, layer.Up, _up);
            Blocks.SwiGlu(_gate, _up, n * c.FeedForwardLength);
            Project(_gate, c.FeedForwardLength, n, layer.Down, _tmp);
            Blocks.AddInPlace(_x, _tmp, n * e);
        }
        Position += n;

        if (logitRow >= 0)
        {
            for (var t = 0; t < n; t++)
                Blocks.RmsNorm(_x + t * e, _w.OutputNorm, _xb + t * e, e, c.RmsEpsilon);
            Project(_xb, e, n, _w.Output, _logits + (long)logitRow * c.VocabSize);
        }
        else if (lastChunk)
        {
            Blocks.RmsNorm(_x + (n - 1) * e, _w.OutputNorm, _xb, e, c.RmsEpsilon);
            Project(_xb, e, 1, _w.Output, _logits);
        }
    }

    private void StoreKv(int layer, int pos, float* k, float* v)
    {
        var kw = _c.KeyWidth;
        var vw = _c.ValueWidth;
        if (KvCache == KvCacheType.F32)
        {
            Buffer.MemoryCopy(k, KeyRow(layer, pos), kw * 4, kw * 4);
            Buffer.MemoryCopy(v, ValueRow(layer, pos), vw * 4, vw * 4);
        }
        else
        {
            ActivationQuantizer.ToF16(k, (ushort*)KeyRow(layer, pos), kw);
            ActivationQuantizer.ToF16(v, (ushort*)ValueRow(layer, pos), vw);
        }
    }

    private byte* KeyRow(int layer, int pos) =>
        _kCache + ((long)layer * ContextLength + pos) * _c.KeyWidth * (KvCache == KvCacheType.F32 ? 4 : 2);

    private byte* ValueRow(int layer, int pos) =>
        _vCache + ((long)layer * ContextLength + pos) * _c.ValueWidth * (KvCache == KvCacheType.F32 ? 4 : 2);

    // Converts the input once per activation type the weights need, then runs all products in one dispatch.
    private void Project(float* input, int cols, int tokens, WeightMatrix w0, float* y0,
        WeightMatrix? w1 = null, float* y1 = null, WeightMatrix? w2 = null, float* y2 = null)
    {
        var done = 0;
        _matmul.Reset(tokens);
        AddProduct(input, cols, tokens, w0, y0, ref done);
        if (w1 is not null)
            AddProduct(input, cols, tokens, w1, y1, ref done);
        if (w2 is not null)
            AddProduct(input, cols, tokens, w2, y2, ref done);
        _pool.Run(_matmul);
        if (_lora is not null)
        {
            AddLora(input, cols, tokens, w0, y0);
            if (w1 is not null)
                AddLora(input, cols, tokens, w1, y1);
            if (w2 is not null)
                AddLora(input, cols, tokens, w2, y2);
        }
    }

    // y += s·B(A·x) for each adapter term of w, computed like ggml does it: x converted to A's activation type
    // (fp16 for an fp16 adapter), A·x converted again for B, the product scaled, then added.
    private void AddLora(float* input, int cols, int tokens, WeightMatrix w, float* y)
    {
        var terms = _lora!.TermsFor(w);
        if (terms is null)
            return;
        foreach (var term in terms)
        {
            var (a, b) = (term.A, term.B);
            var aType = a.Kernel.Activation;
            var aStride = ActivationQuantizer.RowBytes(aType, cols);
            for (var t = 0; t < tokens; t++)
                ActivationQuantizer.Quantize(aType, input + t * cols, _loraIn + (long)t * aStride, cols);
            var rank = a.Rows;
            MatMulJob.Compute(a, _loraIn, aStride, _loraMid, rank, tokens, 0, rank);
            var bType = b.Kernel.Activation;
            var bStride = ActivationQuantizer.RowBytes(bType, rank);
            for (var t = 0; t < tokens; t++)
                ActivationQuantizer.Quantize(bType, _loraMid + t * rank, _loraMidIn + (long)t * bStride, rank);
            var rows = b.Rows;
            MatMulJob.Compute(b, _loraMidIn, bStride, _loraOut, rows, tokens, 0, rows);
            var scale = term.Scale;
            for (long i = 0, count = (long)tokens * rows; i < count; i++)
                y[i] += scale * _loraOut[i];
        }
    }

    private void AddProduct(float* input, int cols, int tokens, WeightMatrix w, float* y, ref int done)
    {
        var type = w.Kernel.Activation;
        var stride = ActivationQuantizer.RowBytes(type, cols);
        byte* x;
        if (type == ActivationType.F32)
        {
            x = (byte*)input;
        }
        else
        {
            x = (byte*)_activations[(int)type];
            if ((done & (1 << (int)type)) == 0)
            {
                for (var t = 0; t < tokens; t++)
                    ActivationQuantizer.Quantize(type, input + t * cols, x + t * stride, cols);
                done |= 1 << (int)type;
            }
        }
        _matmul.Add(w, x, stride, y, w.Rows);
    }

    private HashSet<ActivationType> NeededActivationTypes()
    {
        var set = new HashSet<ActivationType> { _w.Output.Kernel.Activation };
        foreach (var l in _w.Layers)
        {
            foreach (var m in (WeightMatrix[])[l.Query, l.Key, l.Value, l.Output, l.Gate, l.Up, l.Down])
                set.Add(m.Kernel.Activation);
        }
        return set;
    }

    private float* Floats(long count) => (float*)Bytes(count * 4);

    private byte* Bytes(long count)
    {
        var p = NativeMemory.AlignedAlloc((nuint)Math.Max(64, count), 64);
        NativeMemory.Clear(p, (nuint)Math.Max(64, count));
        _allocations.Add((nint)p);
        return (byte*)p;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var p in _allocations)
            NativeMemory.AlignedFree((void*)p);
        _allocations.Clear();
        if (_ownsPool)
            _pool.Dispose();
    }

    /// <summary>Causal attention over the cache for every (token, head) pair of a chunk, split across threads.</summary>
    private sealed class AttentionJob(InferenceSession s) : IParallelJob
    {
        private int _layer;
        private int _tokens;

        public void Set(int layer, int tokens)
        {
            _layer = layer;
            _tokens = tokens;
        }

        public void Execute(int index, int count)
        {
            var c = s._c;
            var heads = c.HeadCount;
            var group = heads / c.HeadCountKv;
            var items = _tokens * heads;
            var start = (int)((long)items * index / count);
            var end = (int)((long)items * (index + 1) / count);
            var scores = s._scores + (long)index * s.ContextLength;
            var scale = 1f / MathF.Sqrt(c.KeyLength);
            var hk = c.KeyLength;
            var hv = c.ValueLength;
            var f32 = s.KvCache == KvCacheType.F32;
            for (var item = start; item < end; item++)
            {
                var t = item / heads;
                var h = item % heads;
                var pos = s.Position + t;
                var kvh = h / group;
                var q = s._q + t * c.QueryWidth + h * hk;
                for (var p = 0; p <= pos; p++)
                {
                    var krow = s.KeyRow(_layer, p);
                    scores[p] = (f32 ? Blocks.Dot(q, (float*)krow + kvh * hk, hk) : Blocks.DotHalf(q, (ushort*)krow + kvh * hk, hk)) * scale;
                }
                Blocks.Softmax(scores, pos + 1);
                var o = s._att + t * c.AttentionWidth + h * hv;
                new Span<float>(o, hv).Clear();
                for (var p = 0; p <= pos; p++)
                {
                    var vrow = s.ValueRow(_layer, p);
                    if (f32)
                        Blocks.Axpy(scores[p], (float*)vrow + kvh * hv, o, hv);
                    else
                        Blocks.AxpyHalf(scores[p], (ushort*)vrow + kvh * hv, o, hv);
                }
            }
        }
    }
}
