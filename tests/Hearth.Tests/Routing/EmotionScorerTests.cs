using Hearth.Routing;

namespace Hearth.Tests.Routing;

public sealed class EmotionScorerTests
{
    [Fact]
    public void NeutralTextHasNoEmotion()
    {
        var r = EmotionScorer.Score("What is the capital of France?");
        Assert.Equal(0, r.Intensity);
        Assert.Empty(r.Cues);
    }

    [Fact]
    public void NegationCancelsANegativeCue()
    {
        var plain = EmotionScorer.Score("I am worried about the results.");
        var negated = EmotionScorer.Score("I am not worried about the results.");
        var contracted = EmotionScorer.Score("I'm really not worried about the results.");
        Assert.True(plain.Distress > 0);
        Assert.Equal(0, negated.Distress);
        Assert.Equal(0, negated.Intensity);
        Assert.Equal(0, contracted.Distress);
        Assert.Contains(negated.Cues, c => c.Contains("negated", StringComparison.Ordinal));
    }

    [Fact]
    public void NegatedJoyBecomesSadness()
    {
        var happy = EmotionScorer.Score("I am happy with my job");
        var notHappy = EmotionScorer.Score("I am not happy with my job");
        var isnt = EmotionScorer.Score("My boss isn't happy with me");
        Assert.True(happy.Joy > 0);
        Assert.Equal(0, happy.Sadness);
        Assert.Equal(0, notHappy.Joy);
        Assert.True(notHappy.Sadness > 0);
        Assert.True(isnt.Sadness > 0);
    }

    [Fact]
    public void NegationDoesNotCrossAClause()
    {
        var r = EmotionScorer.Score("It's not the money, I'm terrified of losing my home.");
        Assert.True(r.Distress >= 1.0);
    }

    [Fact]
    public void NegationReachesOnlyThreeWordsBack()
    {
        var near = EmotionScorer.Score("I am not scared");
        var far = EmotionScorer.Score("no matter what they say to me I am scared");
        Assert.Equal(0, near.Distress);
        Assert.True(far.Distress > 0);
    }

    [Fact]
    public void IntensifiersRaiseAndDiminishersLower()
    {
        var plain = EmotionScorer.Score("I am anxious about tomorrow");
        var very = EmotionScorer.Score("I am extremely anxious about tomorrow");
        var bit = EmotionScorer.Score("I am slightly anxious about tomorrow");
        Assert.True(very.Distress > plain.Distress);
        Assert.True(bit.Distress < plain.Distress);
        Assert.Equal(plain.Distress * 1.5, very.Distress, 9);
        Assert.Equal(plain.Distress * 0.5, bit.Distress, 9);
        Assert.True(very.Intensity > plain.Intensity && plain.Intensity > bit.Intensity);
    }

    [Fact]
    public void ExclamationMarksAndCapitalsRaiseIntensity()
    {
        var plain = EmotionScorer.Score("this is frustrating");
        var bang = EmotionScorer.Score("this is frustrating!!!");
        var caps = EmotionScorer.Score("this is FRUSTRATING");
        var shouting = EmotionScorer.Score("WHY DOES THIS NEVER WORK");
        Assert.True(bang.Intensity > plain.Intensity);
        Assert.True(bang.Urgency > 0);
        Assert.True(caps.Anger > plain.Anger);
        Assert.True(shouting.Anger > 0);
        Assert.Equal(0, EmotionScorer.Score("Our HIPAA and GDPR audit is next week").Anger);
    }

    [Fact]
    public void PhrasesAreCues()
    {
        var r = EmotionScorer.Score("I can't cope anymore and I need help right now");
        Assert.True(r.Distress >= 1.0);
        Assert.True(r.Urgency >= 1.0);
        Assert.Contains(r.Cues, c => c.Contains("can't cope", StringComparison.Ordinal));
    }

    [Fact]
    public void WithoutCueCollectionTheScoresAreTheSame()
    {
        const string text = "I'm so scared and my chest hurts!!";
        var a = EmotionScorer.Score(text);
        var b = EmotionScorer.Score(text, collectCues: false);
        Assert.Equal(a.Intensity, b.Intensity);
        Assert.Empty(b.Cues);
        Assert.NotEmpty(a.Cues);
    }
}
