using System.Buffers;

namespace Hearth.Routing;

/// <summary>
/// The content model: a TF-IDF index over the examples and descriptions of every domain, built once. Each document
/// (one example, or one description) is a sparse vector of sub-linear term frequency × smoothed IDF × a weight per
/// feature kind, L2-normalised; each domain also has a centroid (the normalised sum of its documents). A query is
/// scored with an inverted index: its similarity to a domain, in [0, 1], is 0.3 × its cosine with the domain's nearest
/// document + 0.2 × its cosine with the domain's centroid + 0.5 × word coverage: the IDF-weighted share of the query's
/// words that the domain's texts use, each word's share split between the domains that use it. Query features never seen in training still count in the
/// query's norm (with the IDF of the rarest seen feature), so a query about something else scores low.
/// </summary>
internal sealed class LexicalIndex
{
    // Per-kind weights: words carry most meaning; bigrams add phrases; the many character n-grams are each weak
    // but together catch morphology and typos.
    private static readonly float[] KindWeight = [1.0f, 0.8f, 0.3f];

    // Shares of the three similarity measures: nearest document (cosine), domain centroid (cosine), word coverage.
    private const float NearestShare = 0.3f;
    private const float CentroidShare = 0.2f;
    private const float CoverageShare = 0.5f;

    private readonly Dictionary<ulong, int> _vocabulary;
    private readonly float[] _idf;
    private readonly int[] _postingStart;     // feature -> first posting (length = features + 1)
    private readonly int[] _postingDoc;
    private readonly float[] _postingWeight;
    private readonly int[] _centroidStart;
    private readonly int[] _centroidDomain;
    private readonly float[] _centroidWeight;
    private readonly int[] _docDomain;
    private readonly float _unseenIdf;
    private readonly byte[] _kind;
    private readonly int[] _coverStart;       // word feature -> (domain, exclusivity) postings
    private readonly int[] _coverDomain;
    private readonly float[] _coverWeight;

    private LexicalIndex(
        int domainCount, Dictionary<ulong, int> vocabulary, float[] idf, int[] postingStart, int[] postingDoc, float[] postingWeight,
        int[] centroidStart, int[] centroidDomain, float[] centroidWeight, int[] docDomain, float unseenIdf,
        byte[] kind, int[] coverStart, int[] coverDomain, float[] coverWeight)
    {
        _kind = kind;
        _coverStart = coverStart;
        _coverDomain = coverDomain;
        _coverWeight = coverWeight;
        DomainCount = domainCount;
        _vocabulary = vocabulary;
        _idf = idf;
        _postingStart = postingStart;
        _postingDoc = postingDoc;
        _postingWeight = postingWeight;
        _centroidStart = centroidStart;
        _centroidDomain = centroidDomain;
        _centroidWeight = centroidWeight;
        _docDomain = docDomain;
        _unseenIdf = unseenIdf;
    }

    public int DomainCount { get; }

    public int DocumentCount => _docDomain.Length;

    public int FeatureCount => _idf.Length;

    /// <summary>Builds the index; <paramref name="documents"/>[d] holds the texts of domain d (examples and description).</summary>
    public static LexicalIndex Build(IReadOnlyList<IReadOnlyList<string>> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var vocabulary = new Dictionary<ulong, int>();
        var kinds = new List<byte>();
        var docTerms = new List<(int Domain, Dictionary<int, int> Counts)>();
        for (var d = 0; d < documents.Count; d++)
        {
            foreach (var text in documents[d])
            {
                if (string.IsNullOrWhiteSpace(text))
                    continue;
                var buffer = TextFeatures.Buffer.Rent(text.Length);
                try
                {
                    TextFeatures.Extract(text, ref buffer);
                    var counts = new Dictionary<int, int>();
                    for (var i = 0; i < buffer.Count; i++)
                    {
                        if (!vocabulary.TryGetValue(buffer.Hashes[i], out var id))
                        {
                            id = vocabulary.Count;
                            vocabulary.Add(buffer.Hashes[i], id);
                            kinds.Add(buffer.Kinds[i]);
                        }

                        counts[id] = counts.GetValueOrDefault(id) + 1;
                    }

                    if (counts.Count > 0)
                        docTerms.Add((d, counts));
                }
                finally
                {
                    buffer.Dispose();
                }
            }
        }

        var featureCount = vocabulary.Count;
        var df = new int[featureCount];
        foreach (var (_, counts) in docTerms)
        {
            foreach (var id in counts.Keys)
                df[id]++;
        }

        var n = docTerms.Count;
        var idf = new float[featureCount];
        for (var f = 0; f < featureCount; f++)
            idf[f] = (float)Math.Log(1.0 + ((double)n / df[f])) * KindWeight[kinds[f]];
        var unseen = (float)Math.Log(1.0 + n);

        // Normalised document vectors, then postings grouped by feature (counting sort keeps it deterministic).
        var docVectors = new List<(int Feature, float Weight)[]>(n);
        var centroids = new Dictionary<int, float>[documents.Count];
        for (var d = 0; d < centroids.Length; d++)
            centroids[d] = [];
        foreach (var (domain, counts) in docTerms)
        {
            var vec = counts.OrderBy(kv => kv.Key).Select(kv => (kv.Key, Weight: (float)(1.0 + Math.Log(kv.Value)) * idf[kv.Key])).ToArray();
            var norm = MathF.Sqrt(vec.Sum(v => v.Weight * v.Weight));
            for (var i = 0; i < vec.Length; i++)
            {
                vec[i].Weight /= norm;
                centroids[domain][vec[i].Key] = centroids[domain].GetValueOrDefault(vec[i].Key) + vec[i].Weight;
            }

            docVectors.Add(vec);
        }

        var postingStart = new int[featureCount + 1];
        foreach (var vec in docVectors)
        {
            foreach (var (f, _) in vec)
                postingStart[f + 1]++;
        }

        for (var f = 0; f < featureCount; f++)
            postingStart[f + 1] += postingStart[f];
        var fill = (int[])postingStart.Clone();
        var postingDoc = new int[postingStart[featureCount]];
        var postingWeight = new float[postingDoc.Length];
        for (var doc = 0; doc < docVectors.Count; doc++)
        {
            foreach (var (f, w) in docVectors[doc])
            {
                var at = fill[f]++;
                postingDoc[at] = doc;
                postingWeight[at] = w;
            }
        }

        var centroidStart = new int[featureCount + 1];
        for (var d = 0; d < centroids.Length; d++)
        {
            foreach (var f in centroids[d].Keys)
                centroidStart[f + 1]++;
        }

        for (var f = 0; f < featureCount; f++)
            centroidStart[f + 1] += centroidStart[f];
        fill = (int[])centroidStart.Clone();
        var centroidDomain = new int[centroidStart[featureCount]];
        var centroidWeight = new float[centroidDomain.Length];
        for (var d = 0; d < centroids.Length; d++)
        {
            var norm = MathF.Sqrt(centroids[d].Values.Sum(v => v * v));
            foreach (var (f, w) in centroids[d].OrderBy(kv => kv.Key))
            {
                var at = fill[f]++;
                centroidDomain[at] = d;
                centroidWeight[at] = w / norm;
            }
        }

        // Word coverage: for each word, the domains whose examples or description use it, each with weight
        // 1 / (number of such domains), so a word only one domain uses counts fully toward it.
        var domainsOf = new SortedSet<int>[featureCount];
        foreach (var (domain, counts) in docTerms)
        {
            foreach (var f in counts.Keys)
            {
                if (kinds[f] == TextFeatures.KindUnigram)
                    (domainsOf[f] ??= []).Add(domain);
            }
        }

        var coverStart = new int[featureCount + 1];
        for (var f = 0; f < featureCount; f++)
            coverStart[f + 1] = coverStart[f] + (domainsOf[f]?.Count ?? 0);
        var coverDomain = new int[coverStart[featureCount]];
        var coverWeight = new float[coverDomain.Length];
        for (var f = 0; f < featureCount; f++)
        {
            if (domainsOf[f] is not { } set)
                continue;
            var at = coverStart[f];
            foreach (var d in set)
            {
                coverDomain[at] = d;
                coverWeight[at++] = 1f / set.Count;
            }
        }

        return new LexicalIndex(
            documents.Count, vocabulary, idf, postingStart, postingDoc, postingWeight, centroidStart, centroidDomain, centroidWeight,
            [.. docTerms.Select(t => t.Domain)], unseen, [.. kinds], coverStart, coverDomain, coverWeight);
    }

    /// <summary>Writes each domain's similarity to <paramref name="text"/> (in [0, 1]) into <paramref name="similarity"/>.</summary>
    public void Score(ReadOnlySpan<char> text, Span<float> similarity)
    {
        if (similarity.Length < DomainCount)
            throw new ArgumentException($"needs room for {DomainCount} domains", nameof(similarity));
        similarity[..DomainCount].Clear();
        var buffer = TextFeatures.Buffer.Rent(text.Length);
        var docScores = ArrayPool<float>.Shared.Rent(Math.Max(1, DocumentCount));
        var centroidScores = ArrayPool<float>.Shared.Rent(Math.Max(1, DomainCount));
        var coverScores = ArrayPool<float>.Shared.Rent(Math.Max(1, DomainCount));
        try
        {
            TextFeatures.Extract(text, ref buffer);
            if (buffer.Count == 0)
                return;
            var hashes = buffer.Hashes;
            var kinds = buffer.Kinds;

            // Sort so equal features are adjacent: term frequency without a dictionary.
            hashes.Sort(kinds);
            Array.Clear(docScores, 0, DocumentCount);
            Array.Clear(centroidScores, 0, DomainCount);
            Array.Clear(coverScores, 0, DomainCount);
            double norm = 0;
            double wordMass = 0;
            var i = 0;
            while (i < hashes.Length)
            {
                var h = hashes[i];
                var kind = kinds[i];
                var j = i + 1;
                while (j < hashes.Length && hashes[j] == h)
                    j++;
                var tf = 1f + MathF.Log(j - i);
                i = j;
                if (!_vocabulary.TryGetValue(h, out var f))
                {
                    // Unseen: counts toward the norm only, as rare as the rarest seen feature of its kind.
                    var wu = tf * _unseenIdf * KindWeight[kind];
                    norm += wu * wu;
                    if (kind == TextFeatures.KindUnigram)
                        wordMass += wu;
                    continue;
                }

                var w = tf * _idf[f];
                norm += w * w;
                if (_kind[f] == TextFeatures.KindUnigram)
                {
                    wordMass += w;
                    for (var p = _coverStart[f]; p < _coverStart[f + 1]; p++)
                        coverScores[_coverDomain[p]] += w * _coverWeight[p];
                }

                for (var p = _postingStart[f]; p < _postingStart[f + 1]; p++)
                    docScores[_postingDoc[p]] += w * _postingWeight[p];
                for (var p = _centroidStart[f]; p < _centroidStart[f + 1]; p++)
                    centroidScores[_centroidDomain[p]] += w * _centroidWeight[p];
            }

            if (norm <= 0)
                return;
            var inv = (float)(1.0 / Math.Sqrt(norm));
            for (var doc = 0; doc < DocumentCount; doc++)
            {
                var d = _docDomain[doc];
                var s = docScores[doc] * inv;
                if (s > similarity[d])
                    similarity[d] = s; // nearest document, for now
            }

            var cover = wordMass > 0 ? (float)(1.0 / wordMass) : 0f;
            for (var d = 0; d < DomainCount; d++)
                similarity[d] = Math.Clamp((NearestShare * similarity[d]) + (CentroidShare * centroidScores[d] * inv) + (CoverageShare * coverScores[d] * cover), 0f, 1f);
        }
        finally
        {
            buffer.Dispose();
            ArrayPool<float>.Shared.Return(docScores);
            ArrayPool<float>.Shared.Return(centroidScores);
            ArrayPool<float>.Shared.Return(coverScores);
        }
    }
}
