namespace Hearth.Gguf;

/// <summary>
/// A GGUF file is malformed or uses something Hearth does not support. The message names
/// the problem and <see cref="Offset"/> the byte offset in the file where it was found.
/// </summary>
public sealed class GgufFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GgufFormatException(string message, long offset, string? path = null)
        : base(Format(message, offset, path))
    {
        Offset = offset;
        Path = path;
        Reason = message;
    }

    /// <summary>Creates the exception with no offset information.</summary>
    public GgufFormatException() : this("malformed GGUF data", 0) { }

    /// <summary>Creates the exception with no offset information.</summary>
    public GgufFormatException(string message) : this(message, 0) { }

    /// <summary>Creates the exception wrapping another.</summary>
    public GgufFormatException(string message, Exception innerException) : base(message, innerException) => Reason = message;

    /// <summary>Byte offset in the file where the problem was found.</summary>
    public long Offset { get; }

    /// <summary>The file, when the data came from one.</summary>
    public string? Path { get; }

    /// <summary>The problem, without file name and offset.</summary>
    public string Reason { get; }

    private static string Format(string message, long offset, string? path) =>
        path is null ? $"{message} (at byte offset {offset})" : $"{path}: {message} (at byte offset {offset})";
}
