using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Bench;

/// <summary>
/// Encoding ~1 MB of mixed text (stories, code-like lines, accents, CJK, emoji) with the SPM (Llama 2) and
/// BPE (Llama 3, Qwen) tokenizers, with the word cache on (warm after the first call) and off. The "tokens/s" column
/// is tokens produced per second of encoding. The <c>tokenize</c> mode of Program.cs is a quicker stopwatch run.
/// Run: dotnet run -c Release --project bench/Hearth.Bench -- --filter '*Tokenizer*' --job short
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensPerSecondConfig))]
public class TokenizerBenchmarks
{
    private Tokenizer _tokenizer = null!;
    private string _text = "";

    /// <summary>Tokenizer fixture: SPM (Llama 2 vocab), BPE (Llama 3, Qwen) or WordPiece (BERT).</summary>
    [Params("spm-llama2", "bpe-llama3", "bpe-qwen2", "wpm-bert")]
    public string Vocab { get; set; } = "";

    /// <summary>Whether the vocabulary's word cache is on (off: every word goes through the merge loop).</summary>
    [Params(true, false)]
    public bool WordCache { get; set; } = true;

    /// <summary>Tokens the text encodes to (for the tokens/s column).</summary>
    public static Dictionary<string, int> TokenCounts { get; } = [];

    [GlobalSetup]
    public void Setup()
    {
        var path = Vocab switch
        {
            "spm-llama2" => Fixtures.File("vocab", "ggml-vocab-llama-spm.gguf"),
            "bpe-llama3" => Fixtures.File("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf"),
            "wpm-bert" => Fixtures.File("vocab", "ggml-vocab-bert-bge.gguf"),
            _ => Fixtures.File("qwen2", "qwen2-F32_embQ4_0.gguf"),
        };
        using var file = GgufFile.Open(path);
        _tokenizer = Tokenizer.FromGguf(file);
        var story = File.ReadAllText(Fixtures.File("models", "stories260K-eval.txt"));
        var sb = new StringBuilder();
        while (sb.Length < 1 << 20)
            sb.Append(story).Append("\ndef f(x):\n    return x * 2  # Héllo wörld, 你好世界 🦙 ≤ ∞ 3.14159\n");
        _text = sb.ToString(0, 1 << 20);
        _tokenizer.Vocabulary.Words.Enabled = WordCache;
        TokenCounts[Vocab] = _tokenizer.Encode(_text, addSpecial: false).Length;
    }

    /// <summary>Encode 1 MiB of text.</summary>
    [Benchmark]
    public int Encode1MiB() => _tokenizer.Encode(_text, addSpecial: false).Length;

    /// <summary>
    /// Stopwatch mode, best of N encodes per vocabulary: with the word cache off (every word through the merge loop),
    /// cold (a fresh tokenizer's first encode) and warm. <c>source</c> text is this repository's C# and Markdown (many
    /// distinct words); <c>stories</c> is the benchmark's repetitive story text.
    /// </summary>
    public static int RunQuick(string[] args)
    {
        var vocabs = args.Length > 1 ? args[1].Split(',') : ["spm-llama2", "bpe-llama3", "bpe-qwen2", "wpm-bert"];
        var reps = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var corpus = args.Length > 3 ? args[3] : "source";
        foreach (var vocab in vocabs)
        {
            var b = new TokenizerBenchmarks { Vocab = vocab };
            b.Setup();
            if (corpus == "source") b._text = SourceText(1 << 20);
            var v = b._tokenizer.Vocabulary;
            var tokens = b.Encode1MiB();
            var distinct = new HashSet<string>(StringComparer.Ordinal);
            if (v.Pre is not null)
            {
                var words = new List<(int Start, int Length)>();
                v.Pre.Split(b._text, 0, b._text.Length, words);
                foreach (var (start, length) in words) distinct.Add(b._text.Substring(start, length));
            }

            double Best(Action before)
            {
                var best = double.MaxValue;
                for (var r = 0; r < reps; r++)
                {
                    before();
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    b.Encode1MiB();
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                return best;
            }
            var off = Best(() => v.Words.Enabled = false);
            var cold = Best(() =>
            {
                b.Setup();
                if (corpus == "source") b._text = SourceText(1 << 20);
                b._tokenizer.Vocabulary.Words.Enabled = true;
            });
            v = b._tokenizer.Vocabulary;
            var warm = Best(() => { });
            string Rate(double seconds) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{seconds * 1000,6:F0} ms {tokens / seconds / 1e6,6:F2} M tok/s");
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{vocab,-11} {corpus}: {tokens} tokens{(distinct.Count > 0 ? $", {distinct.Count} distinct pre-tokens" : "")}; cache off {Rate(off)}; cold {Rate(cold)}; warm {Rate(warm)}"));
        }
        return 0;
    }

    /// <summary>This repository's C# sources and Markdown, concatenated and cut to <paramref name="length"/> chars.</summary>
    private static string SourceText(int length)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Hearth.slnx")) && !File.Exists(Path.Combine(root, "README.md")))
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("Run from inside the repository.");
        var sb = new StringBuilder();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Prepend(Path.Combine(root, "README.md")))
        {
            sb.Append(File.ReadAllText(file));
            if (sb.Length >= length) break;
        }
        return sb.Length > length ? sb.ToString(0, length) : sb.ToString();
    }

    private sealed class TokensPerSecondConfig : ManualConfig
    {
        public TokensPerSecondConfig() => AddColumn(new TokensPerSecondColumn());
    }

    private sealed class TokensPerSecondColumn : IColumn
    {
        public string Id => "TokensPerSecond";
        public string ColumnName => "tokens/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Tokens produced per second of encoding";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            var vocab = (string)benchmarkCase.Parameters["Vocab"];
            if (report?.ResultStatistics is null) return "-";
            // The column runs in the host process; the token count is recomputed here once per vocab.
            if (!TokenCounts.TryGetValue(vocab, out var tokens))
            {
                var b = new TokenizerBenchmarks { Vocab = vocab };
                b.Setup();
                tokens = TokenCounts[vocab];
            }
            var seconds = report.ResultStatistics.Mean / 1e9;
            return (tokens / seconds).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
