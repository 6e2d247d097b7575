using System.CommandLine;
using System.Globalization;
using Hearth.Cli.Commands.Inspect;
using Hearth.Factory;
using Spectre.Console;

namespace Hearth.Cli.Commands.Factory;

/// <summary><c>hearth factory merge BASE ADAPTER [--scale S] [--type T] OUT</c>: bake a LoRA adapter into the base weights.</summary>
internal static class MergeCommand
{
    public static Command Create(CliContext context)
    {
        var basePath = new Argument<FileInfo>("BASE") { Description = "Base GGUF model" };
        var adapterPath = new Argument<FileInfo>("ADAPTER") { Description = "LoRA adapter in llama.cpp's GGUF format (adapter.type = lora)" };
        var output = new Argument<FileInfo>("OUT") { Description = "Merged GGUF file to write" };
        var scale = new Option<float>("--scale", "-s") { Description = "User scale (llama.cpp's --lora-scaled); the applied factor is scale·alpha/rank", DefaultValueFactory = _ => 1f };
        var type = new Option<string?>("--type", "-t") { Description = "Quantize the merged model to this type afterwards (" + QuantizeFileType.ValidNames + "); default: as llama-export-lora writes it" };
        var command = new Command("merge", "Merge a LoRA adapter into a base model (same bytes as llama-export-lora), optionally re-quantizing")
        {
            basePath, adapterPath, output, scale, type,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var b = parse.GetValue(basePath)!;
            var a = parse.GetValue(adapterPath)!;
            foreach (var f in new[] { b, a })
            {
                if (!f.Exists)
                    throw new CliException($"file not found: {f.FullName}");
            }
            QuantizeFileType? fileType = null;
            if (parse.GetValue(type) is { } typeName)
            {
                if (!QuantizeFileType.TryParse(typeName, out var ft))
                    throw new CliException($"unknown type '{typeName}'; valid types: {QuantizeFileType.ValidNames}");
                fileType = ft;
            }
            var s = parse.GetValue(scale);
            if (!float.IsFinite(s))
                throw new CliException("--scale must be a finite number");
            var dst = parse.GetValue(output)!.FullName;
            var mergedPath = fileType is null ? dst : dst + ".merged-" + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            try
            {
                MergeResult result;
                try
                {
                    result = LoraMerger.Merge(b.FullName, a.FullName, s, mergedPath, cancellationToken);
                }
                catch (InvalidDataException ex)
                {
                    throw new CliException(ex.Message);
                }
                foreach (var (tensor, factor) in result.Merged)
                    context.Console.MarkupLineInterpolated($"[grey]merged {tensor} (factor {factor.ToString("0.######", CultureInfo.InvariantCulture)})[/]");
                if (fileType is not null)
                {
                    try
                    {
                        var q = FactoryCommand.WithProgress(context, "quantize " + fileType.Name, report =>
                            ModelQuantizer.Quantize(mergedPath, dst, fileType, new QuantizeOptions(),
                                new FactoryCommand.SyncProgress<QuantizeProgress>(p => report(p.BytesDone, p.BytesTotal, p.TensorName)), cancellationToken));
                        context.Console.MarkupLineInterpolated($"quantized to {fileType.Name}: {InspectCommand.Bytes(q.OutputFileSize)}");
                    }
                    catch (InvalidDataException ex)
                    {
                        throw new CliException(ex.Message);
                    }
                }
                context.Console.MarkupLineInterpolated($"[green]wrote[/] {dst}: {result.Merged.Count} of {result.TensorCount} tensors merged from {a.Name} at scale {s.ToString("0.###", CultureInfo.InvariantCulture)}");
            }
            finally
            {
                if (fileType is not null && File.Exists(mergedPath))
                    File.Delete(mergedPath);
            }
            return Task.FromResult(0);
        });
        return command;
    }
}
