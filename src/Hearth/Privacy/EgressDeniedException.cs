namespace Hearth.Privacy;

/// <summary>
/// Thrown when Hearth's egress guard refuses an outbound connection: the destination is not an endpoint the
/// configuration allows. No socket was opened to the destination.
/// </summary>
public sealed class EgressDeniedException : HttpRequestException
{
    /// <summary>Creates the exception for a refused destination.</summary>
    /// <param name="destination">What was refused, e.g. <c>http://127.0.0.1:8080/</c> or <c>example.com:443 (203.0.113.5)</c>.</param>
    /// <param name="rule">The rule that refused it.</param>
    public EgressDeniedException(string destination, string rule)
        : base($"Egress refused: {destination}: {rule}")
    {
        Destination = destination;
        Rule = rule;
    }

    /// <summary>Creates an exception with a message only.</summary>
    public EgressDeniedException()
        : this("(unknown)", "refused")
    {
    }

    /// <summary>Creates an exception with a message only.</summary>
    /// <param name="message">The message.</param>
    public EgressDeniedException(string message)
        : base(message)
    {
        Destination = "(unknown)";
        Rule = message;
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="inner">The cause.</param>
    public EgressDeniedException(string message, Exception inner)
        : base(message, inner)
    {
        Destination = "(unknown)";
        Rule = message;
    }

    /// <summary>The refused destination.</summary>
    public string Destination { get; }

    /// <summary>Why it was refused: the rule that applied.</summary>
    public string Rule { get; }
}
