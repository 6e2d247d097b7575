using System.Text;
using System.Text.RegularExpressions;

namespace Hearth.Privacy;

/// <summary>HIPAA Safe Harbor identifier kinds the redactor finds.</summary>
internal enum PhiType
{
    Name,
    Date,
    Age,
    Phone,
    Fax,
    Email,
    Ssn,
    MedicalRecord,
    HealthPlan,
    Account,
    License,
    Vehicle,
    Device,
    Url,
    IpAddress,
    Address,
    Zip,
}

/// <summary>One identifier found in a text.</summary>
internal readonly record struct PhiSpan(PhiType Type, int Start, int Length)
{
    public int End => Start + Length;
}

/// <summary>
/// Finds and replaces the HIPAA Safe Harbor identifiers that patterns and context can find: names after cue words,
/// dates other than a bare year, ages over 89, phone and fax numbers, e-mail addresses, SSNs, medical record / health
/// plan / account / licence numbers (after context words), vehicle identifiers and plates, device serials, URLs,
/// IP addresses, street addresses and ZIP codes. Replacements are <c>[TYPE]</c> tags. Patterns are compiled once;
/// the redactor is stateless and thread-safe. It is a safety net for logs, not a de-identification guarantee.
/// </summary>
internal static partial class PhiRedactor
{
    private const string Month = "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
    private const string IdValue = @"([A-Z0-9][A-Z0-9-]{3,}[A-Z0-9])";

    // Words that follow a cue but are not names ("the patient Reports", "Dr. On call").
    private static readonly HashSet<string> NotNames = new(StringComparer.Ordinal)
    {
        "The", "He", "She", "They", "His", "Her", "Is", "Was", "Has", "Had", "Will", "Would", "Should", "Can", "Could",
        "Reports", "Reported", "Denies", "Denied", "States", "Stated", "Presents", "Presented", "Care", "Portal", "Room",
        "Education", "Safety", "Information", "Record", "Records", "Satisfaction", "Advocate", "Who", "With", "And", "In",
        "On", "At", "Is", "Of", "To", "For", "Name", "Names", "Identifier", "Identifiers", "Not", "No",
    };

    private static readonly (PhiType Type, Regex Pattern)[] Rules =
    [
        (PhiType.Email, EmailRegex()),
        (PhiType.Url, UrlRegex()),
        (PhiType.IpAddress, Ipv4Regex()),
        (PhiType.IpAddress, Ipv6Regex()),
        (PhiType.Ssn, SsnRegex()),
        (PhiType.Ssn, SsnCueRegex()),
        (PhiType.MedicalRecord, MrnRegex()),
        (PhiType.HealthPlan, HealthPlanRegex()),
        (PhiType.Account, AccountRegex()),
        (PhiType.Vehicle, PlateRegex()),
        (PhiType.Vehicle, VinRegex()),
        (PhiType.License, LicenseRegex()),
        (PhiType.Device, DeviceRegex()),
        (PhiType.Phone, PhoneRegex()),
        (PhiType.Date, NumericDateRegex()),
        (PhiType.Date, IsoDateRegex()),
        (PhiType.Date, MonthDayRegex()),
        (PhiType.Date, DayMonthRegex()),
        (PhiType.Date, MonthYearRegex()),
        (PhiType.Age, AgeRegex()),
        (PhiType.Age, AgeCueRegex()),
        (PhiType.Address, StreetRegex()),
        (PhiType.Zip, ZipAfterStateRegex()),
        (PhiType.Zip, ZipCueRegex()),
        (PhiType.Name, TitleNameRegex()),
        (PhiType.Name, CueNameRegex()),
    ];

    /// <summary>Finds identifiers; overlapping matches keep the earlier rule's (then the longer) span.</summary>
    public static List<PhiSpan> Find(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var candidates = new List<(PhiSpan Span, int Priority)>();
        for (var r = 0; r < Rules.Length; r++)
        {
            var (type, regex) = Rules[r];
            foreach (Match m in regex.Matches(text))
            {
                // A rule with a capture group redacts the group only (the value after its context word).
                var g = m.Groups.Count > 1 && m.Groups[1].Success ? m.Groups[1] : (Capture)m;
                var start = g.Index;
                var length = g.Length;
                var t = type;
                if (t == PhiType.Url)
                    length = g.Value.TrimEnd('.', ',', ';', ':', '!', '?').Length;
                if (t == PhiType.Name && !KeepName(text.AsSpan(start, length), ref length))
                    continue;
                if (t == PhiType.Phone && IsFax(text, start))
                    t = PhiType.Fax;
                var needsDigit = t is PhiType.Account or PhiType.MedicalRecord or PhiType.HealthPlan or PhiType.License or PhiType.Device;
                if (needsDigit && !text.AsSpan(start, length).ContainsAnyInRange('0', '9'))
                    continue;
                if (length > 0)
                    candidates.Add((new PhiSpan(t, start, length), r));
            }
        }

        candidates.Sort((a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : b.Span.Length.CompareTo(a.Span.Length));
        var chosen = new List<PhiSpan>();
        foreach (var (span, _) in candidates)
        {
            if (!chosen.Any(c => c.Start < span.End && span.Start < c.End))
                chosen.Add(span);
        }

        chosen.Sort((a, b) => a.Start.CompareTo(b.Start));
        return chosen;
    }

    /// <summary>Replaces every identifier with <c>[TYPE]</c>.</summary>
    public static string Redact(string text)
    {
        var spans = Find(text);
        if (spans.Count == 0)
            return text;
        var sb = new StringBuilder(text.Length);
        var at = 0;
        foreach (var s in spans)
        {
            sb.Append(text, at, s.Start - at).Append('[').Append(Tag(s.Type)).Append(']');
            at = s.End;
        }

        return sb.Append(text, at, text.Length - at).ToString();
    }

    public static string Tag(PhiType type) => type switch
    {
        PhiType.MedicalRecord => "MRN",
        PhiType.HealthPlan => "HEALTH_PLAN",
        PhiType.IpAddress => "IP",
        _ => type.ToString().ToUpperInvariant(),
    };

    private static bool IsFax(string text, int start)
    {
        var from = Math.Max(0, start - 24);
        return text.AsSpan(from, start - from).Contains("fax", StringComparison.OrdinalIgnoreCase);
    }

    private static bool KeepName(ReadOnlySpan<char> candidate, ref int length)
    {
        // Drop trailing words that are not names; reject when the first word is not one.
        var words = candidate.ToString().Split(' ');
        var keep = 0;
        foreach (var w in words)
        {
            var bare = w.EndsWith("'s", StringComparison.Ordinal) ? w[..^2] : w;
            if (NotNames.Contains(bare))
                break;
            keep++;
        }

        if (keep == 0)
            return false;
        var kept = string.Join(' ', words.Take(keep));
        if (kept.EndsWith("'s", StringComparison.Ordinal))
            kept = kept[..^2];
        length = kept.Length;
        return true;
    }

    [GeneratedRegex(@"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")]
    private static partial Regex EmailRegex();

    [GeneratedRegex(@"\b(?:https?://|www\.)[^\s<>""')\]]+", RegexOptions.IgnoreCase)]
    private static partial Regex UrlRegex();

    [GeneratedRegex(@"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.]*\d)")]
    private static partial Regex Ipv4Regex();

    [GeneratedRegex(@"(?<![\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,5})?|::1)(?![\w:])")]
    private static partial Regex Ipv6Regex();

    [GeneratedRegex(@"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")]
    private static partial Regex SsnRegex();

    [GeneratedRegex(@"(?i:\b(?:SSN|social security(?: number| no\.?| #)?))\s*(?:is|was|of|:|#)?\s*(\d{3}[ .]?\d{2}[ .]?\d{4})\b")]
    private static partial Regex SsnCueRegex();

    [GeneratedRegex(@"(?i:\b(?:MRN|medical record(?: number| no\.?| #)?|chart(?: number| no\.?| #)|record(?: number| no\.?| #)))\s*(?:is|was|of|:|#)?\s*#?\s*" + IdValue)]
    private static partial Regex MrnRegex();

    [GeneratedRegex(@"(?i:\b(?:health plan|member|beneficiary|insurance|policy|subscriber|medicare|medicaid|group)(?: ID| identifier| number| no\.?| #)(?: is| was|:)?)\s*#?\s*" + IdValue)]
    private static partial Regex HealthPlanRegex();

    [GeneratedRegex(@"(?i:\b(?:account|acct\.?|billing account|bank account|invoice)(?: ID| number| no\.?| #)?(?: is| was|:)?)\s*#?\s*" + IdValue)]
    private static partial Regex AccountRegex();

    [GeneratedRegex(@"(?i:\b(?:license plate|licence plate|plate(?: number| no\.?)?|tag number|registration(?: number)?))(?: is| was| reads|:)?\s*#?\s*([A-Z0-9][A-Z0-9 -]{1,7}[A-Z0-9])\b")]
    private static partial Regex PlateRegex();

    [GeneratedRegex(@"(?i:\bVIN(?: number)?(?: is|:)?\s*)?\b((?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17})\b")]
    private static partial Regex VinRegex();

    [GeneratedRegex(@"(?i:\b(?:driver'?s licen[cs]e|licen[cs]e|DEA|NPI|certificate|permit)(?: ID| number| no\.?| #)?(?: is| was|:)?)\s*#?\s*" + IdValue)]
    private static partial Regex LicenseRegex();

    [GeneratedRegex(@"(?i:\b(?:serial(?: number| no\.?| #)?|S/N|SN|device ID|device identifier|implant ID|UDI|IMEI))(?: is| was|:)?\s*#?\s*" + IdValue)]
    private static partial Regex DeviceRegex();

    [GeneratedRegex(@"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])")]
    private static partial Regex PhoneRegex();

    [GeneratedRegex(@"(?<![\d/.-])(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:\d{4}|\d{2})(?![\d/-]|\.\d)")]
    private static partial Regex NumericDateRegex();

    [GeneratedRegex(@"(?<![\d-])(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?![\d-])")]
    private static partial Regex IsoDateRegex();

    [GeneratedRegex(@"\b" + Month + @"\.?\s+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\b(?:,?\s+(?:19|20)\d{2}\b)?")]
    private static partial Regex MonthDayRegex();

    [GeneratedRegex(@"\b" + Month + @"\.?\s+(?:19|20)\d{2}\b")]
    private static partial Regex MonthYearRegex();

    [GeneratedRegex(@"\b(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s+(?:of\s+)?" + Month + @"\b(?:,?\s+(?:19|20)\d{2}\b)?")]
    private static partial Regex DayMonthRegex();

    [GeneratedRegex(@"\b(?:9\d|1[0-2]\d)(?:\s*-?\s*(?:years?|yrs?)(?:\s*-?\s*old)?|\s*y/?o\b|-year-old)", RegexOptions.IgnoreCase)]
    private static partial Regex AgeRegex();

    [GeneratedRegex(@"(?i:\b(?:aged?|age:))\s*((?:9\d|1[0-2]\d))\b")]
    private static partial Regex AgeCueRegex();

    [GeneratedRegex(@"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy)\b\.?(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*#?\w+)?")]
    private static partial Regex StreetRegex();

    [GeneratedRegex(@"\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[AT]|W[AIVY]),?\s+(\d{5}(?:-\d{4})?)\b")]
    private static partial Regex ZipAfterStateRegex();

    [GeneratedRegex(@"(?i:\b(?:zip(?: code)?|postal code))(?: is| was|:)?\s*(\d{5}(?:-\d{4})?)\b")]
    private static partial Regex ZipCueRegex();

    [GeneratedRegex(@"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+([A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+)?)")]
    private static partial Regex TitleNameRegex();

    [GeneratedRegex(@"(?i:\b(?:patient|pt\.?|client|resident|son|daughter|wife|husband|mother|father|brother|sister|spouse|caregiver|named|name is|name:|called))\s*,?\s+([A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+){0,2})")]
    private static partial Regex CueNameRegex();
}
