namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>
/// A problem with what the user asked for (a missing folder, no images, a model that does not fit the input).
/// The app prints its message as one line and exits with <see cref="ExitCodes.Error"/>: no stack trace, since
/// there is nothing to debug, only something to fix on the command line.
/// </summary>
public sealed class UserInputException : Exception
{
    public UserInputException(string message, Exception? inner = null) : base(message, inner) { }
}
