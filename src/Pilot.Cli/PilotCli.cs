using System.CommandLine;
using System.CommandLine.Invocation;
using Pilot.Cli.Bench;
using Pilot.Cli.Commands;

namespace Pilot.Cli;

/// <summary>Things the commands use that tests replace: the paper-run runner, where the system FashionMNIST lives.</summary>
internal sealed record CliServices
{
    /// <summary>Creates the runner of <c>pilot bench paper</c>.</summary>
    public Func<PaperRunnerSetup, IPaperRunner> PaperRunner { get; init; } = setup => new MLNetPaperRunner(setup);

    /// <summary>Folder of the full FashionMNIST used when <c>--data</c> is not given; if it does not exist, the embedded subset is used.</summary>
    public string SystemFashionMnistFolder { get; init; } = CliDefaults.SystemFashionMnistFolder;

    /// <summary>The services of the real program.</summary>
    public static CliServices Default { get; } = new();
}

/// <summary>The <c>pilot</c> command tree and its entry point; <c>Program</c> only calls <see cref="Run"/>.</summary>
internal static class PilotCli
{
    /// <summary>Parses <paramref name="args"/>, runs the command and returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static int Run(string[] args, CliConsole console, CliServices? services = null)
    {
        var root = CreateRootCommand(new CliApp(console, services ?? CliServices.Default));
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors)
                console.Error.WriteLine($"pilot: {error.Message}");
            console.Error.WriteLine($"Run '{CommandPath(parse.CommandResult.Command)} --help' for usage.");
            return ExitCodes.BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration
            {
                Output = console.Out,
                Error = console.Error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (CliInputException e)
        {
            console.Out.Flush();
            console.Error.WriteLine($"pilot: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            console.Out.Flush();
            console.Error.WriteLine($"pilot: unexpected error; please report it with the command line and this text.{Environment.NewLine}{e}");
            return ExitCodes.Unexpected;
        }
    }

    /// <summary>The command tree: <c>train</c>, <c>evaluate</c>, <c>predict</c>, <c>policy export</c>, <c>export onnx</c>, <c>bench optimizer|train|paper|report|landscape</c>, <c>codegen</c>.</summary>
    internal static RootCommand CreateRootCommand(CliApp app)
    {
        var root = new RootCommand(
            "pilot: train, evaluate and use image classifiers with the PILOT optimizer (ML.NET + TorchSharp).");
        root.Subcommands.Add(new TrainCommand().Create(app.Train));
        root.Subcommands.Add(new EvaluateCommand().Create(app.Evaluate));
        root.Subcommands.Add(new PredictCommand().Create(app.Predict));
        root.Subcommands.Add(new PolicyExportCommand().Create(app.ExportPolicy));
        root.Subcommands.Add(new ExportOnnxCommand().Create(app.ExportOnnx));
        root.Subcommands.Add(new BenchCommands().Create(app.BenchOptimizer, app.BenchTrain, app.BenchPaper, app.BenchReport, app.BenchLandscape));
        root.Subcommands.Add(new Codegen.CodegenCommand().Create());
        return root;
    }

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault())
            names.Insert(0, c is RootCommand ? "pilot" : c.Name);
        return string.Join(' ', names);
    }
}
