using System.Text;
using System.Text.Json;
using Hearth.Engine.Generation;
using Hearth.Engine.Sampling;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Sampling;

/// <summary>JSON mode with a schema: what the plan enforces, what it refuses, and a real model kept to a schema.</summary>
public sealed class JsonSchemaTests
{
    private const string Person = """
        {
          "type": "object",
          "description": "annotations are accepted",
          "properties": {
            "name": { "type": "string", "maxLength": 40 },
            "age": { "type": "integer" },
            "height": { "type": "number" },
            "tags": { "type": "array", "items": { "enum": ["red", "green", 7, true, null] }, "minItems": 1, "maxItems": 2 },
            "nick": { "type": ["string", "null"] },
            "pet": { "anyOf": [ { "type": "object", "properties": { "kind": { "const": "cat" } }, "required": ["kind"] }, { "type": "null" } ] },
            "extra": { "type": "object" }
          },
          "required": ["name", "age"],
          "additionalProperties": false
        }
        """;

    private static JsonConstraint For(string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        return new JsonConstraint(JsonSchemaPlan.Compile(doc.RootElement));
    }

    [Theory]
    [InlineData("""{"name": "Ann", "age": 42}""")]
    [InlineData("""{"age": -3, "name": "x", "tags": ["red", 7], "nick": null, "height": 1.5e3}""")]
    [InlineData("""{"name": "", "age": 0, "nick": "n", "pet": {"kind": "cat"}, "extra": {"any": [1, {"x": null}]}}""")]
    [InlineData("""{"name": "Bo", "age": 1, "tags": [null], "pet": null, "height": -0}""")]
    [InlineData("{\n  \"name\": \"Ω\",\n  \"age\": 7\n}")]
    public void DocumentsThatMatchPassInAnyChunking(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var whole = For(Person);
        Assert.True(whole.Accept(bytes), text);
        Assert.True(whole.IsComplete);
        var single = For(Person);
        foreach (var b in bytes)
            Assert.True(single.Accept([b]), $"{text} at '{(char)b}'");
        Assert.True(single.IsComplete);
        Assert.True(Matches(JsonDocument.Parse(text).RootElement, Person), text);
    }

    [Theory]
    [InlineData("""{"nme""", 3)]                                     // not a declared property
    [InlineData("""{"name": "A"}""", 12)]                            // age is required
    [InlineData("""{"name": "A", "name""", 16)]                      // each property once
    [InlineData("""{"age": 1.5""", 9)]                               // an integer
    [InlineData("""{"age": 1e3""", 9)]
    [InlineData("""{"name": 1""", 9)]                                // a string
    [InlineData("""{"tags": []""", 10)]                              // at least one item
    [InlineData("""{"tags": ["blue""", 11)]                          // one of the listed values
    [InlineData("""{"tags": [7, true,""", 17)]                       // at most two items: no second comma
    [InlineData("""{"tags": [70""", 11)]                             // 7, not 70
    [InlineData("""{"nick": true""", 9)]
    [InlineData("""{"pet": {"kind": "dog""", 18)]
    [InlineData("""{"pet": {}""", 9)]                                // kind is required
    [InlineData("""{"pet": []""", 8)]                                // an object or null
    [InlineData("""{"name": "a", "age": 1, "height": 2, "tags": [7], "nick": null, "pet": null, "extra": {},""", 88)] // nothing left to write
    public void DocumentsThatDoNotMatchAreRefusedAtTheFirstBadByte(string text, int badAt)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var c = For(Person);
        Assert.True(c.Accept(bytes.AsSpan(0, badAt)), $"prefix of {text}");
        Assert.False(c.CanAccept(bytes.AsSpan(badAt, 1)), text);
    }

    [Fact]
    public void LocalReferencesMayRecurse()
    {
        const string Tree = """
            { "$ref": "#/$defs/node",
              "$defs": { "node": { "type": "object", "properties": { "name": { "type": "string" }, "children": { "type": "array", "items": { "$ref": "#/$defs/node" } } }, "required": ["name"], "additionalProperties": false } } }
            """;
        var ok = For(Tree);
        Assert.True(ok.Accept("""{"name": "root", "children": [{"name": "a", "children": [{"name": "b"}]}, {"name": "c"}]}"""u8));
        Assert.True(ok.IsComplete);
        var bad = For(Tree);
        Assert.True(bad.Accept("""{"name": "root", "children": [{"name": "a", "children": [{"""u8));
        Assert.False(bad.CanAccept("\"x"u8));
        Assert.True(bad.CanAccept("\"name"u8));
        Assert.False(bad.CanAccept("}"u8)); // name is required at every level
    }

    [Theory]
    [InlineData("""{"type": "object", "allOf": [{}]}""", "#/allOf")]
    [InlineData("""{"type": "object", "properties": {"a": {"not": {"type": "string"}}}}""", "#/properties/a/not")]
    [InlineData("""{"type": "object", "patternProperties": {"^x": {}}}""", "#/patternProperties")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "text"}}}""", "unknown type 'text'")]
    [InlineData("""{"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}""", "only local references")]
    [InlineData("""{"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}""", "does not resolve")]
    [InlineData("""{"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"enum": ["x"]}]}}}""", "#/properties/a/anyOf")]
    [InlineData("""{"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "string", "maxLength": 2}]}}}""", "start with the same character")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "required": ["b"]}""", "'b' is required")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "additionalProperties": true}""", "set it to false")]
    [InlineData("""{"type": "array"}""", "top level must be an object")]
    [InlineData("""{"enum": ["x"]}""", "top level must be an object")]
    [InlineData("""{"type": "object", "properties": {"a\"b": {}}}""", "need escaping")]
    // Malformed schemas: an ArgumentException naming the place (not an InvalidOperationException, a server's 500).
    [InlineData("""{"type": "object", "properties": {"a": {"type": 7}}}""", "#/properties/a/type:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": ["string", 1]}}}""", "#/properties/a/type:")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "required": "a"}""", "#/required:")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "required": [1]}""", "#/required:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": 1.5}}}""", "#/properties/a/minItems:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": "1"}}}""", "#/properties/a/minItems:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": -1}}}""", "#/properties/a/minItems:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "maxItems": 1e20}}}""", "#/properties/a/maxItems:")]
    [InlineData("""{"type": "object", "properties": {"a": {"$ref": 1}}}""", "#/properties/a/$ref:")]
    [InlineData("""{"type": "object", "properties": {"a": {"enum": "x"}}}""", "#/properties/a/enum:")]
    [InlineData("""{"type": "object", "properties": []}""", "#/properties:")]
    [InlineData("""{"type": "object", "properties": {"a": {"anyOf": {}}}}""", "#/properties/a/anyOf:")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"enum": ["\uD800"]}}}}}""", "JSON schema")]
    // Schemas no value can be written for (a generation would stop with no token allowed).
    [InlineData("""{"type": "object", "properties": {"a": {"type": []}}}""", "#/properties/a/type: an empty list")]
    [InlineData("""{"type": "object", "properties": {"a": {"anyOf": []}}}""", "#/properties/a/anyOf:")]
    [InlineData("""{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}""", "refers back to itself")]
    [InlineData("""{"$ref": "#"}""", "refers back to itself")]
    [InlineData("""{"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]}""", "levels of nesting")]
    [InlineData("""{"type": "object", "properties": {"e": {"type": "string", "enum": [1, 2]}}}""", "#/properties/e/type: none of the listed values")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "integer"}, {"type": "null"}]}}}""", "no alternative admits")]
    // Keywords that would be dropped: beside $ref, and beside anyOf (other than a type, which narrows it).
    [InlineData("""{"type": "object", "properties": {"e": {"$ref": "#/$defs/s", "type": "null"}}, "$defs": {"s": {"type": "string"}}}""", "#/properties/e/type: keywords beside $ref")]
    [InlineData("""{"type": "object", "properties": {"a": {"properties": {"x": {}}, "anyOf": [{"type": "object"}, {"type": "null"}]}}}""", "#/properties/a/properties: keywords beside anyOf")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": ["integer", "null"], "anyOf": [{"type": "number"}, {"type": "null"}]}}}""", "integer type beside")]
    [InlineData("""{"type": "object", "properties": {"a": {}, "a": {}}}""", "#/properties/a: the property is declared twice")]
    public void KeywordsThatCannotBeEnforcedAreRefusedWithTheirPath(string schema, string message)
    {
        using var doc = JsonDocument.Parse(schema);
        var ex = Assert.Throws<ArgumentException>(() => JsonSchemaPlan.Compile(doc.RootElement));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type": "object", "properties": {"e": {"type": "string", "enum": ["a", 1]}}}""", """{"e": "a"}""", """{"e": 1""", 6)]
    [InlineData("""{"type": "object", "properties": {"e": {"type": "integer", "enum": [1, 1.5]}}}""", """{"e": 1}""", """{"e": 1.""", 7)]
    [InlineData("""{"type": "object", "properties": {"e": {"type": "string", "anyOf": [{"type": "string"}, {"type": "null"}]}}}""", """{"e": "x"}""", """{"e": null""", 6)]
    [InlineData("""{"type": "object", "properties": {"e": {"type": ["string", "null"], "anyOf": [{"type": "string"}, {"type": "integer"}]}}}""", """{"e": "x"}""", """{"e": 1""", 6)]
    public void ATypeBesideEnumOrAnyOfNarrowsThem(string schema, string matching, string notMatching, int badAt)
    {
        // Both keywords apply: a value the type refuses must be refused even when listed or admitted by an alternative.
        var ok = For(schema);
        Assert.True(ok.Accept(Encoding.UTF8.GetBytes(matching)), matching);
        Assert.True(ok.IsComplete);
        var bad = For(schema);
        var bytes = Encoding.UTF8.GetBytes(notMatching);
        Assert.True(bad.Accept(bytes.AsSpan(0, badAt)), notMatching);
        Assert.False(bad.CanAccept(bytes.AsSpan(badAt, 1)), notMatching);
    }

    [Fact]
    public void SchemasAsPydanticWritesThemAreEnforced()
    {
        // Pydantic lists "type" after "properties"; a recursive Optional['Node'] is anyOf [$ref to the node, null], read
        // while the node is being built. Optional[Enum] is anyOf [$ref to an enum, null]. Strings outside the BMP in
        // names and listed values are written raw, as models write them.
        const string Node = """
            {"$ref": "#/$defs/Node", "$defs": {
              "Color": {"enum": ["red", "green", "🦙"], "title": "Color", "type": "string"},
              "Node": {"properties": {"name": {"title": "Name", "type": "string"},
                                      "color": {"anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}], "default": null},
                                      "🦙 count": {"type": "integer"},
                                      "next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}], "default": null}},
                       "required": ["name"], "title": "Node", "type": "object"}}}
            """;
        var c = For(Node);
        Assert.True(c.Accept("""{"name": "a", "color": "🦙", "🦙 count": 2, "next": {"name": "b", "color": null, "next": {"name": "c", "color": "red"}}}"""u8));
        Assert.True(c.IsComplete);
        var bad = For(Node);
        Assert.True(bad.Accept("""{"name": "a", "next": {"name": "b", "color": "gr"""u8));
        Assert.False(bad.CanAccept("a"u8));
        Assert.True(bad.CanAccept("een\""u8));
    }

    [Fact]
    public void AKeyOrItemIsOfferedOnlyWhereItsValueFitsUnderTheNestingLimit()
    {
        // "child" must be an object: at the deepest level, writing its key would leave no way on.
        var c = For("""{"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}}""");
        for (var i = 1; i < JsonConstraint.MaxDepth; i++)
            Assert.True(c.Accept("{\"child\": "u8), $"level {i}");
        Assert.True(c.Accept("{"u8));
        Assert.False(c.CanAccept("\"c"u8));
        var deep = For("""{"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}}""");
        for (var i = 1; i < JsonConstraint.MaxDepth; i++)
            Assert.True(deep.Accept("{\"child\": "u8));
        Assert.True(deep.Accept("{\"n\": 1"u8));
        Assert.False(deep.CanAccept(","u8)); // only "child" is left, and it does not fit
        Assert.True(deep.Accept(Encoding.ASCII.GetBytes(new string('}', JsonConstraint.MaxDepth))));
        Assert.True(deep.IsComplete);

        // An array whose items need an object each (minItems 1) opens only where one fits inside it.
        var list = For("""{"type": "object", "properties": {"l": {"type": "array", "items": {"$ref": "#"}, "minItems": 1}}}""");
        for (var i = 1; i < JsonConstraint.MaxDepth / 2; i++)
            Assert.True(list.Accept("{\"l\": ["u8), $"level {i}");
        Assert.True(list.Accept("{"u8)); // depth 31: "l" needs 2 more levels
        Assert.False(list.CanAccept("\"l"u8));
        Assert.True(list.Accept("}"u8));
    }

    [Fact]
    public void NoReachableStateIsADeadEnd()
    {
        // Random byte walks that favour opening brackets (to reach the nesting limit) and keys: at every step some
        // byte must be allowed, and whatever completes parses and matches.
        string[] schemas =
        [
            Person,
            """{"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}}""",
            """{"type": "object", "properties": {"l": {"type": "array", "items": {"$ref": "#"}, "minItems": 1, "maxItems": 2}}}""",
            """{"type": "object", "properties": {"a": {"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"enum": [1, 12]}, "ids": {"type": "array", "items": {"enum": ["a", "ab"]}}}, "required": ["id"]}, "minItems": 2}}}}""",
            """{"type": "object", "properties": {"o": {"anyOf": [{"type": "object", "properties": {"o": {"$ref": "#"}}, "required": ["o"]}, {"type": "null"}]}}}""",
        ];
        var alphabet = Enumerable.Range(0x20, 0x5F).Select(b => (byte)b).Concat([(byte)'\n', (byte)'\t', (byte)0xC3, (byte)0xA9]).ToArray();
        var random = new Random(77);
        var completed = 0;
        foreach (var schema in schemas)
        {
            for (var walk = 0; walk < 60; walk++)
            {
                var c = For(schema);
                var text = new List<byte>();
                for (var step = 0; step < 4000 && !c.IsComplete; step++)
                {
                    var allowed = alphabet.Where(b => c.CanAccept([b])).ToArray();
                    Assert.True(allowed.Length > 0, $"{schema}: no byte after '{Encoding.UTF8.GetString([.. text])}'");
                    byte[] preferred = [(byte)'{', (byte)'[', (byte)'"', (byte)',', (byte)'n'];
                    var pick = preferred.FirstOrDefault(b => allowed.Contains(b) && random.Next(4) > 0);
                    if (pick == 0) pick = allowed[random.Next(allowed.Length)];
                    Assert.True(c.Accept([pick]));
                    text.Add(pick);
                }
                if (!c.IsComplete) continue;
                completed++;
                using var doc = JsonDocument.Parse(text.ToArray());
                if (!schema.Contains("\"#\"", StringComparison.Ordinal))
                    Assert.True(Matches(doc.RootElement, schema), Encoding.UTF8.GetString([.. text]));
            }
        }
        Assert.True(completed > 100, $"{completed} walks completed");
    }

    [Fact]
    public void AgreesWithAReferenceValidatorOnMutatedDocuments()
    {
        // Valid documents with one non-blank character replaced, inserted or removed: the constraint completes exactly
        // the texts that parse and match the schema (checked by the small validator below, written from the spec).
        string[] docs =
        [
            """{"name": "Ann", "age": 42, "tags": ["red", 7], "nick": null}""",
            """{"age": 5, "name": "x", "pet": {"kind": "cat"}, "height": 1.25}""",
            """{"name": "q", "age": 0, "extra": {"k": [true, false]}, "tags": [true]}""",
        ];
        var random = new Random(61206);
        const string Alphabet = "{}[]:,\"-.0123456789eantmgkrduxlc";
        var agreed = 0;
        foreach (var doc in docs)
        {
            for (var round = 0; round < 400; round++)
            {
                var text = JsonConstraintTests.Mutate(doc, random, Alphabet);
                var c = For(Person);
                var ours = c.Accept(Encoding.UTF8.GetBytes(text)) && c.IsComplete;
                bool reference;
                try
                {
                    using var parsed = JsonDocument.Parse(text);
                    reference = Matches(parsed.RootElement, Person);
                }
                catch (JsonException)
                {
                    reference = false;
                }
                Assert.True(ours == reference, $"'{text}': constraint {ours}, reference {reference}");
                agreed++;
            }
        }
        Assert.Equal(1200, agreed);
    }

    [Fact]
    public void TheStoriesModelWritesAnObjectThatMatchesTheSchema()
    {
        const string Mood = """{"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}, "age": {"type": "integer"}}, "required": ["mood", "age"], "additionalProperties": false}""";
        using var schema = JsonDocument.Parse(Mood);
        using var client = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        var g = client.Generator;
        var prompt = g.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        var result = g.Generate(prompt, new GenerationOptions { MaxTokens = 150, JsonSchema = JsonSchemaPlan.Compile(schema.RootElement) });
        Assert.Equal(StopReason.EndOfGeneration, result.StopReason);
        using var answer = JsonDocument.Parse(result.Text);
        Assert.True(Matches(answer.RootElement, Mood), result.Text);
        Assert.Contains(answer.RootElement.GetProperty("mood").GetString(), new[] { "happy", "sad" });
    }

    // A reference validator for the enforced subset, written from JSON Schema's definitions (integers: no fraction or
    // exponent in the text, the rule JSON mode applies).
    private static bool Matches(JsonElement value, string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        return Matches(value, doc.RootElement, doc.RootElement);
    }

    private static bool Matches(JsonElement v, JsonElement s, JsonElement root)
    {
        if (s.TryGetProperty("$ref", out var r))
        {
            var target = root;
            foreach (var part in r.GetString()![2..].Split('/')) target = target.GetProperty(part);
            return Matches(v, target, root);
        }
        if (s.TryGetProperty("anyOf", out var any) && !any.EnumerateArray().Any(a => Matches(v, a, root))) return false;
        if (s.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(v, constant)) return false;
        if (s.TryGetProperty("enum", out var list) && !list.EnumerateArray().Any(e => JsonElement.DeepEquals(v, e))) return false;
        if (s.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray() : [type.GetString()!];
            var kind = v.ValueKind switch
            {
                JsonValueKind.Object => "object",
                JsonValueKind.Array => "array",
                JsonValueKind.String => "string",
                JsonValueKind.Number => v.GetRawText().IndexOfAny(['.', 'e', 'E']) < 0 ? "integer" : "number",
                JsonValueKind.True or JsonValueKind.False => "boolean",
                _ => "null",
            };
            if (!types.Contains(kind) && !(kind == "integer" && types.Contains("number"))) return false;
        }
        if (v.ValueKind == JsonValueKind.Object)
        {
            var names = v.EnumerateObject().Select(p => p.Name).ToList();
            if (names.Count != names.Distinct(StringComparer.Ordinal).Count()) return false;
            var props = s.TryGetProperty("properties", out var p) ? p : default;
            foreach (var member in v.EnumerateObject())
            {
                if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(member.Name, out var ps))
                {
                    if (!Matches(member.Value, ps, root)) return false;
                }
                else if (props.ValueKind == JsonValueKind.Object || (s.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False))
                {
                    return false;
                }
            }
            if (s.TryGetProperty("required", out var req) && req.EnumerateArray().Any(n => !names.Contains(n.GetString()!))) return false;
        }
        if (v.ValueKind == JsonValueKind.Array)
        {
            var items = v.EnumerateArray().ToList();
            if (s.TryGetProperty("minItems", out var min) && items.Count < min.GetInt32()) return false;
            if (s.TryGetProperty("maxItems", out var max) && items.Count > max.GetInt32()) return false;
            if (s.TryGetProperty("items", out var itemSchema) && !items.All(i => Matches(i, itemSchema, root))) return false;
        }
        return true;
    }
}
