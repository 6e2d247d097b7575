using Hearth.Cli.Commands.Store;
using Hearth.Store;

namespace Hearth.Cli.Commands.Run;

/// <summary>
/// Turns the <c>--model</c> argument into a file: an existing path as is, else a model in the store (resolved to its
/// blob, no copy). A model not in the store is pulled only when <c>models.auto_download</c> is true; otherwise the
/// error gives the exact <c>hearth pull</c> command.
/// </summary>
internal static class ModelResolver
{
    public static async Task<string> ResolveAsync(CliContext context, string model, CancellationToken cancellationToken)
    {
        if (File.Exists(model))
            return Path.GetFullPath(model);
        if (model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || !ModelReference.TryParse(model, out _, out _))
            throw new CliException($"model file not found: {Path.GetFullPath(model)}");

        var (config, store) = StoreCli.Open(context);
        if (store.TryResolve(model, out var path))
        {
            store.MarkUsed(model);
            return path;
        }

        var pull = ModelPuller.SuggestPullCommand(model);
        if (!config.Models.AutoDownload)
            throw new CliException($"model '{model}' is not in the store ({store.Root}) and models.auto_download is off; download it first with: {pull}");

        using var audit = StoreCli.OpenAudit(config);
        var puller = new ModelPuller(store, config, context.Environment, audit);
        var source = pull["hearth pull ".Length..];
        var result = await StoreCli.WithProgressAsync(context, (progress, log) => puller.PullAsync(source,
            new PullOptions { Name = model.Contains('/', StringComparison.Ordinal) ? null : model, Progress = progress, Log = log }, cancellationToken));
        return result.ModelPath;
    }
}
