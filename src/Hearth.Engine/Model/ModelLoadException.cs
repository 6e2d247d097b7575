namespace Hearth.Engine.Model;

/// <summary>A model file cannot be run: a missing or mis-shaped tensor, a missing hyper-parameter, an unsupported architecture or type.</summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception with an empty message.</summary>
    public ModelLoadException()
    {
    }

    /// <summary>Creates the exception; the message names the file, tensor or key and what was expected.</summary>
    public ModelLoadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public ModelLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
