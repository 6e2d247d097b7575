using Hearth.Engine.Templates;

namespace Hearth.Engine.Tests.Templates;

/// <summary>The Jinja constructs one by one, with results as Jinja2 (HF settings: trim_blocks, lstrip_blocks) gives them.</summary>
public sealed class JinjaSubsetTests
{
    private static string R(string template, Dictionary<string, object?>? vars = null) =>
        ChatTemplate.Parse(template).Render([], addGenerationPrompt: false, variables: vars);

    [Theory]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue")]
    [InlineData("{{ 7 // 2 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ -7 // 2 }} {{ 2 * 3 + 1 }}", "3 3.5 1 -4 7")]
    [InlineData("{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[-2:] }}|{{ [1,2,3][1:] }}", "bc|fedcba|ef|[2, 3]")]
    [InlineData("{{ 'x' if false else 'y' }}{{ 'z' if true }}", "yz")]
    [InlineData("{{ 1 in [1, 2] }} {{ 'b' in 'abc' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", "True True True True")]
    [InlineData("{{ '  hi  ' | trim }}|{{ 'Hi' | upper }}|{{ 'Hi' | lower }}|{{ [1,2,3] | length }}|{{ 'abc' | length }}", "hi|HI|hi|3|3")]
    [InlineData("{{ [1,2,3] | join(', ') }}|{{ [1,2] | first }}|{{ [1,2] | last }}|{{ 'a-b' | replace('-', '+') }}", "1, 2, 3|1|2|a+b")]
    [InlineData("{{ undefined_thing | default('d') }}|{{ '' | default('e', true) }}|{{ none | default('f') }}", "d|e|None")]
    [InlineData("{{ {'a': 1, 'b': 'é'} | tojson }}|{{ [1, 'x', none, true, 1.5] | tojson }}", "{\"a\": 1, \"b\": \"é\"}|[1, \"x\", null, true, 1.5]")]
    [InlineData("{{ {'a': [1]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ]\n}")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% endfor %}", "a1b2")]
    [InlineData("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }},{% endfor %}", "10TrueFalse33,21FalseFalse32,32FalseTrue31,")]
    [InlineData("{% for x in [1,2,3,4] if x is even %}{{ x }}{% else %}none{% endfor %}", "24")]
    [InlineData("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}", "1")]
    [InlineData("{% set ns = namespace(n=0) %}{% for x in [1,2,3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "6")]
    [InlineData("{% set n = 0 %}{% for x in [1,2,3] %}{% set n = n + x %}{% endfor %}{{ n }}", "0")]
    [InlineData("{% set s %}a{{ 1 + 1 }}b{% endset %}{{ s }}", "a2b")]
    [InlineData("{% if 1 > 2 %}a{% elif 2 > 1 %}b{% else %}c{% endif %}", "b")]
    [InlineData("{{ x is defined }}{{ x is not defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ 3 is number }}{{ [1] is iterable }}", "FalseTrueTrueTrueTrueTrueTrue")]
    [InlineData("{{ [{'a': 1}, {'a': 2}, {'b': 3}] | selectattr('a', 'defined') | map(attribute='a') | list }}", "[1, 2]")]
    [InlineData("{{ [{'r': 'x'}, {'r': 'y'}] | rejectattr('r', 'equalto', 'x') | list | length }}", "1")]
    [InlineData("{{ '  a b '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'abc'.startswith('ab') }}|{{ 'x\ny'.split('\n')[-1] }}|{{ 'Hi'.lower() }}", "a b|['a', 'b']|True|y|hi")]
    [InlineData("{{ \"it's\" }}|{{ ['it\\'s'] }}|{{ {'k': none} }}", "it's|[\"it's\"]|{'k': None}")]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }}", "Hi A! Hi B?")]
    [InlineData("{{ range(3) | list }}{{ range(1, 7, 2) | list }}", "[0, 1, 2][1, 3, 5]")]
    [InlineData("{# comment #}a{#- trimmed -#}  b", "ab")]
    public void Expression(string template, string expected) => Assert.Equal(expected, R(template));

    [Fact]
    public void TrimBlocksAndLstripBlocksAsHuggingFaceConfiguresThem()
    {
        var template = "{% for m in messages %}\n  {% if m.role == 'user' %}\nU: {{ m.content }}\n  {% endif %}\n{% endfor %}\n";
        var result = ChatTemplate.Parse(template).Render([("user", "Hi"), ("assistant", "x"), ("user", "Bye")], false);
        Assert.Equal("U: Hi\nU: Bye\n", result);
    }

    [Fact]
    public void ExpressionTagsKeepSurroundingWhitespaceUnlessMinus()
    {
        Assert.Equal("a \n 1 \nb", R("a \n {{ 1 }} \nb"));
        Assert.Equal("a1b", R("a \n {{- 1 -}} \nb"));
        Assert.Equal("ab", R("a\n  {%- if true %}\nb{% endif %}"));
        Assert.Equal("a\n  b", R("a\n  {%+ if true %}\nb{% endif %}"));
    }

    [Theory]
    [InlineData("{% include 'x.j2' %}", "{% include %}", "line 1, column 4")]
    [InlineData("hello\n{{ x | frobnicate }}", "filter frobnicate", "line 2, column 6")]
    [InlineData("{% for x in y recursive %}{% endfor %}", "for ... recursive", "line 1")]
    [InlineData("{{ x is frobnicated }}", "test frobnicated", "line 1")]
    [InlineData("{{ 2 ** 3 }}", "**", "line 1")]
    public void UnsupportedConstructsAreNamedWithTheirPosition(string template, string construct, string where)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R(template));
        Assert.Contains($"'{construct}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(where, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{% if x %}never closed", "Unclosed")]
    [InlineData("{{ 'unterminated }}", "Unterminated string")]
    [InlineData("{{ 1 + }}", "Unexpected")]
    [InlineData("{% endif %}", "Unexpected")]
    public void SyntaxErrorsSayWhere(string template, string message)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R(template));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RaiseExceptionCarriesTheTemplatesMessage()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R("{{ raise_exception('no system role') }}"));
        Assert.Contains("no system role", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ListsAreImmutableLikeHuggingFacesSandbox()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R("{% set l = [1] %}{{ l.append(2) }}"));
        Assert.Contains("append", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VariablesFromTheCaller() =>
        Assert.Equal("yes 3 x", R("{{ 'yes' if flag }} {{ n }} {{ obj.name }}",
            new() { ["flag"] = true, ["n"] = 3, ["obj"] = new Dictionary<string, object?> { ["name"] = "x" } }));
}
