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
/// BPE (Llama 3, Qwen) tokenizers. The "tokens/s" column is tokens produced per second of encoding.
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
        TokenCounts[Vocab] = _tokenizer.Encode(_text, addSpecial: false).Length;
    }

    /// <summary>Encode 1 MiB of text.</summary>
    [Benchmark]
    public int Encode1MiB() => _tokenizer.Encode(_text, addSpecial: false).Length;

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
