using System.Text.RegularExpressions;

namespace Pilot.Cli.Tests;

/// <summary>The result of running the command tree in-process.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>Runs <c>pilot</c> in-process with captured, non-terminal output.</summary>
internal static partial class CliRunner
{
    public static CliResult Run(CliServices? services, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = PilotCli.Run(args, new CliConsole(output, error, isTerminal: false), services);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    public static CliResult Run(params string[] args) => Run(null, args);

    /// <summary>Any ANSI/VT escape sequence (CSI, OSC, or a bare ESC).</summary>
    [GeneratedRegex("\u001b")]
    public static partial Regex Escape();
}

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pilot-cli-tests-" + Guid.NewGuid().ToString("N")));

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
