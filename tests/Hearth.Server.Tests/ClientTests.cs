using System.ClientModel;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OllamaSharp.Models;
using OllamaSharp.Models.Chat;
using OpenAI;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Hearth.Server.Tests;

/// <summary>The official OpenAI .NET SDK and OllamaSharp against the real server and the real stories260K model.</summary>
public sealed class ClientTests
{
    private static OpenAIClient OpenAI(TestServer s) => new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(s.Url, "/v1") });

    [Fact]
    public async Task OpenAI_sdk_completes_and_streams_with_usage()
    {
        await using var s = await TestServer.StartAsync();
        var chat = OpenAI(s).GetChatClient(TestServer.Model);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(TestServer.Model, completion.Model);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 12);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Contains(completion.FinishReason, new[] { global::OpenAI.Chat.ChatFinishReason.Stop, global::OpenAI.Chat.ChatFinishReason.Length });

        var streamed = "";
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")], options))
        {
            streamed += string.Concat(update.ContentUpdate.Select(p => p.Text));
            usage ??= update.Usage;
        }

        // Greedy decoding: the stream and the single response are the same text.
        Assert.Equal(completion.Content[0].Text, streamed);
        Assert.NotNull(usage);
        Assert.Equal(completion.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Embeddings_through_the_OpenAI_sdk_and_OllamaSharp_match_the_runtime()
    {
        // stories260K declared an embedding model (mean pooling), served as models.embedding.
        var dir = Directory.CreateTempSubdirectory("hearth-srv-embed-").FullName;
        try
        {
            var model = Hearth.Tests.Shared.TestModels.StoriesEmbedding(Path.Combine(dir, "stories-embed.gguf"));
            await using var s = await TestServer.StartAsync(yaml: $"models: {{ default: stories:260k, embedding: '{model}' }}\n");
            string[] texts = ["a cat sat on the mat", "Once upon a time"];
            var direct = await s.Runtime.EmbeddingGenerator!.GenerateAsync(texts);

            var viaOpenAI = await OpenAI(s).GetEmbeddingClient("embedding").AsIEmbeddingGenerator().GenerateAsync(texts);
            Assert.Equal(2, viaOpenAI.Count);
            for (var i = 0; i < 2; i++)
                Assert.Equal(direct[i].Vector.ToArray(), viaOpenAI[i].Vector.ToArray());
            Assert.Equal(direct.Usage!.InputTokenCount, viaOpenAI.Usage!.InputTokenCount);

            using var ollama = new OllamaApiClient(s.Url);
            var viaOllama = await ollama.EmbedAsync(new EmbedRequest { Model = model, Input = [.. texts] });
            Assert.Equal(2, viaOllama.Embeddings.Count);
            for (var i = 0; i < 2; i++)
                Assert.Equal(direct[i].Vector.ToArray(), viaOllama.Embeddings[i]);

            // A generative model named for embeddings: 400 in each dialect, naming the embedding model to use.
            var bad = await s.Http.PostAsync("/v1/embeddings", new StringContent($"{{\"model\":\"{TestServer.Model}\",\"input\":\"x\"}}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
            var error = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]!;
            Assert.Contains("models.embedding", (string?)error["message"], StringComparison.Ordinal);
            Assert.Equal("embeddings_not_supported", (string?)error["code"]);
            var badOllama = await s.Http.PostAsync("/api/embed", new StringContent($"{{\"model\":\"{TestServer.Model}\",\"input\":[\"x\"]}}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, badOllama.StatusCode);
            Assert.Contains("does not support embeddings", (string?)JsonNode.Parse(await badOllama.Content.ReadAsStringAsync())!["error"], StringComparison.Ordinal);
            var noInput = await s.Http.PostAsync("/v1/embeddings", new StringContent("{\"model\":\"embedding\",\"input\":[1,2]}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, noInput.StatusCode);
            Assert.Contains("input[0]", await noInput.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            var wrongSize = await s.Http.PostAsync("/v1/embeddings", new StringContent("{\"model\":\"embedding\",\"input\":\"x\",\"dimensions\":7}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, wrongSize.StatusCode);
            Assert.Equal("dimensions", (string?)JsonNode.Parse(await wrongSize.Content.ReadAsStringAsync())!["error"]!["param"]);

            // models.embedding naming a generative model: a 400 that says why, and the server keeps serving.
            await using var g = await TestServer.StartAsync(yaml: "models: { default: stories:260k, embedding: stories:260k }\n");
            var generative = await g.Http.PostAsync("/v1/embeddings", new StringContent("{\"model\":\"embedding\",\"input\":\"x\"}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, generative.StatusCode);
            Assert.Contains("not an embedding model", await generative.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(System.Net.HttpStatusCode.OK, (await g.Http.GetAsync("/v1/models")).StatusCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAI_sdk_as_IChatClient_lists_models_and_reports_the_route()
    {
        await using var s = await TestServer.StartAsync();
        IChatClient client = OpenAI(s).GetChatClient(TestServer.Model).AsIChatClient();
        var r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Lily and her dog")], new ChatOptions { MaxOutputTokens = 8, Temperature = 0 });
        Assert.False(string.IsNullOrWhiteSpace(r.Text));

        var text = "";
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Lily and her dog")], new ChatOptions { MaxOutputTokens = 8, Temperature = 0 }))
            text += u.Text;
        Assert.Equal(r.Text, text);

        var listed = (await OpenAI(s).GetOpenAIModelClient().GetModelsAsync()).Value.Select(m => m.Id).ToList();
        Assert.Contains(TestServer.Model, listed);
        Assert.Contains("auto", listed);

        // model "auto": the router decides, and says so in x-hearth-route.
        using var response = await s.Http.PostAsync("/v1/chat/completions", Body(new JsonObject
        {
            ["model"] = "auto", ["max_tokens"] = 4, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "write a short story about a dragon" }),
        }));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var route = response.Headers.GetValues("x-hearth-route").Single();
        Assert.Contains("domain=", route, StringComparison.Ordinal);
        Assert.Contains("confidence=", route, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OllamaSharp_chat_generate_tags_show_and_ps()
    {
        await using var s = await TestServer.StartAsync();
        using var ollama = new OllamaApiClient(s.Url, TestServer.Model);

        var tags = (await ollama.ListLocalModelsAsync()).ToList();
        var tag = Assert.Single(tags);
        Assert.Equal(TestServer.Model, tag.Name);
        Assert.Equal(new FileInfo(Hearth.Tests.Shared.Fixtures.Stories260K).Length, tag.Size);

        var show = await ollama.ShowModelAsync(TestServer.Model);
        Assert.Equal("llama", show.Details.Family);

        var streamed = "";
        ChatDoneResponseStream? done = null;
        await foreach (var chunk in ollama.ChatAsync(new ChatRequest
        {
            Model = TestServer.Model,
            Messages = [new Message(OllamaSharp.Models.Chat.ChatRole.User, "Once upon a time")],
            Options = new RequestOptions { Temperature = 0, NumPredict = 10 },
        }))
        {
            streamed += chunk?.Message.Content;
            done = chunk as ChatDoneResponseStream ?? done;
        }

        Assert.False(string.IsNullOrWhiteSpace(streamed));
        Assert.NotNull(done);
        Assert.InRange(done.EvalCount, 1, 10);

        var generated = "";
        await foreach (var g in ollama.GenerateAsync(new GenerateRequest { Model = TestServer.Model, Prompt = "Once upon a time", Options = new RequestOptions { Temperature = 0, NumPredict = 6 } }))
            generated += g?.Response;
        Assert.False(string.IsNullOrWhiteSpace(generated));

        IChatClient asChat = ollama;
        var r = await asChat.GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], new ChatOptions { MaxOutputTokens = 10, Temperature = 0 });
        Assert.Equal(streamed, r.Text);

        var ps = (await ollama.ListRunningModelsAsync()).ToList();
        Assert.Equal(TestServer.Model, Assert.Single(ps).Name);
    }

    internal static StringContent Body(JsonObject o) => new(o.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
}
