using System.CommandLine;
using Pilot.Cli.Commands;

namespace Pilot.Cli.Codegen;

/// <summary>What <c>pilot codegen</c> was asked to do.</summary>
internal sealed record CodegenSettings
{
    /// <summary><c>--model</c>: a model written by <c>pilot train</c> or <c>mlContext.Model.Save</c>.</summary>
    public string Model { get; init; } = CliDefaults.ModelPath;

    /// <summary><c>--namespace</c>: namespace of the generated classes.</summary>
    public string Namespace { get; init; } = ModelBuilderCodeGenerator.DefaultNamespace;

    /// <summary><c>--class</c>: name of the generated class (and of its files and of the model copy).</summary>
    public string Class { get; init; } = ModelBuilderCodeGenerator.DefaultClassName;

    /// <summary><c>--out</c>: folder to write into.</summary>
    public string Out { get; init; } = ".";
}

/// <summary><c>pilot codegen</c>: Model Builder–shaped consumption and training code for a trained model.</summary>
internal sealed class CodegenCommand
{
    public readonly Option<string> Model = OptionFactory.WithDefault("--model", "Model written by 'pilot train' or mlContext.Model.Save.", CliDefaults.ModelPath, "FILE");

    public readonly Option<string> Namespace = OptionFactory.WithDefault("--namespace", "Namespace of the generated code.", ModelBuilderCodeGenerator.DefaultNamespace, "NAME");

    public readonly Option<string> Class = OptionFactory.WithDefault("--class",
        "Name of the generated class; the files are CLASS.consumption.cs and CLASS.training.cs, the model copy CLASS.zip.",
        ModelBuilderCodeGenerator.DefaultClassName, "NAME");

    public readonly Option<string> Out = OptionFactory.WithDefault("--out", "Folder to write the files into (created when missing).", ".", "DIR");

    public IReadOnlyList<Option> All => [Model, Namespace, Class, Out];

    public CodegenCommand()
    {
        // Names are checked when the command line is parsed: a bad one exits with code 2 before the model is read.
        Namespace.Validators.Add(r =>
        {
            if (ModelBuilderCodeGenerator.NamespaceError(r.GetValueOrDefault<string>() ?? "") is { } error)
                r.AddError(error);
        });
        Class.Validators.Add(r =>
        {
            if (ModelBuilderCodeGenerator.ClassNameError(r.GetValueOrDefault<string>() ?? "") is { } error)
                r.AddError(error);
        });
    }

    public Command Create()
    {
        var command = new Command("codegen",
            "Write Model Builder-style C# for a trained model: CLASS.consumption.cs (ModelInput, ModelOutput, Predict, " +
            "PredictAllLabels) and CLASS.training.cs (BuildPipeline with the model's training options, RetrainModel, SaveModel), " +
            "and copy the model next to them as CLASS.zip.");
        foreach (var option in All)
            command.Options.Add(option);
        command.SetAction(parse => Execute(Bind(parse), parse.InvocationConfiguration.Output));
        return command;
    }

    public CodegenSettings Bind(ParseResult parse) => new()
    {
        Model = parse.GetValue(Model)!,
        Namespace = parse.GetValue(Namespace)!,
        Class = parse.GetValue(Class)!,
        Out = parse.GetValue(Out)!,
    };

    /// <summary>Writes the files and lists them on <paramref name="output"/>.</summary>
    /// <exception cref="CliInputException">The model is missing or is not one codegen supports.</exception>
    public static int Execute(CodegenSettings s, TextWriter output)
    {
        IReadOnlyList<string> written;
        try
        {
            written = ModelBuilderCodeGenerator.WriteFiles(s.Model, s.Out, s.Namespace, s.Class);
        }
        catch (FileNotFoundException e)
        {
            throw new CliInputException($"--model: {e.Message} Train one with 'pilot train --out {s.Model}'.", e);
        }
        catch (InvalidDataException e)
        {
            throw new CliInputException($"--model: {e.Message}", e);
        }
        foreach (string file in written)
            output.WriteLine($"wrote {file}");
        output.WriteLine($"Add {Path.GetFileName(written[0])} and {Path.GetFileName(written[1])} to a project that references Pilot.MLNet, " +
                         $"with <None Include=\"{Path.GetFileName(written[2])}\" CopyToOutputDirectory=\"PreserveNewest\" />.");
        return ExitCodes.Success;
    }
}
