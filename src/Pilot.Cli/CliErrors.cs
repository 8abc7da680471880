namespace Pilot.Cli;

/// <summary>The exit codes of <c>pilot</c>.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>An unexpected error (a bug, or a failure outside the user's input); the message and stack trace go to standard error.</summary>
    public const int Unexpected = 1;

    /// <summary>Bad arguments or bad data: the message says which argument or file, and what is wrong with it.</summary>
    public const int BadInput = 2;
}

/// <summary>
/// A problem with what the user passed (an option value, a file, a data folder): <c>pilot</c> prints
/// <see cref="Exception.Message"/> and exits with <see cref="ExitCodes.BadInput"/>.
/// </summary>
internal sealed class CliInputException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> should name the option or file and say how to fix it.</summary>
    public CliInputException(string message, Exception? inner = null) : base(message, inner) { }
}
