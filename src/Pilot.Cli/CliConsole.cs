using Spectre.Console;

namespace Pilot.Cli;

/// <summary>
/// The streams a command writes to, and whether standard output is an interactive terminal. When it is not (output
/// redirected to a file or a pipe, or captured by a test), every command writes plain lines: no ANSI escapes, no
/// live redrawing.
/// </summary>
internal sealed class CliConsole
{
    /// <summary>Width used for tables when output is not a terminal (a log file has no width to detect).</summary>
    internal const int PlainWidth = 160;

    /// <summary>Creates a console over <paramref name="output"/> and <paramref name="error"/>.</summary>
    /// <param name="output">Standard output: progress, tables, results.</param>
    /// <param name="error">Standard error: error messages.</param>
    /// <param name="isTerminal">True for live progress and colours; false for plain text.</param>
    public CliConsole(TextWriter output, TextWriter error, bool isTerminal)
    {
        Out = output;
        Error = error;
        IsTerminal = isTerminal;
        Ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = isTerminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = isTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = isTerminal ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!isTerminal)
            Ansi.Profile.Width = PlainWidth;
    }

    /// <summary>
    /// The process's own console: live output when standard output is a terminal that understands escape sequences,
    /// plain text when it is redirected to a file or pipe, or when <c>TERM=dumb</c>.
    /// </summary>
    public static CliConsole FromSystemConsole()
        => new(Console.Out, Console.Error,
            !Console.IsOutputRedirected && !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal));

    /// <summary>Standard output.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>Whether standard output is an interactive terminal.</summary>
    public bool IsTerminal { get; }

    /// <summary>Spectre.Console over <see cref="Out"/>, configured for plain text when <see cref="IsTerminal"/> is false.</summary>
    public IAnsiConsole Ansi { get; }

    /// <summary>Writes one line of plain text to standard output.</summary>
    public void WriteLine(string text = "") => Out.WriteLine(text);
}
