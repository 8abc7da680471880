using System.CommandLine;

namespace Pilot.Cli.Commands;

/// <summary>What <c>pilot evaluate</c> was asked to do.</summary>
internal sealed record EvaluateSettings
{
    /// <summary><c>--model</c>: a model written by <c>pilot train</c>.</summary>
    public string Model { get; init; } = CliDefaults.ModelPath;

    /// <summary><c>--data</c>: as for <c>pilot train</c>; the test split of an IDX or CIFAR-10 folder, every image of an image folder.</summary>
    public string? Data { get; init; }
}

/// <summary>What <c>pilot predict</c> was asked to do.</summary>
internal sealed record PredictSettings
{
    /// <summary><c>--model</c>.</summary>
    public string Model { get; init; } = CliDefaults.ModelPath;

    /// <summary>The image files (PNG, JPEG, BMP…), at least one.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];

    /// <summary><c>--top</c>: labels printed per image, ≥ 1.</summary>
    public int Top { get; init; } = CliDefaults.TopK;
}

/// <summary>What <c>pilot policy export</c> was asked to do.</summary>
internal sealed record PolicyExportSettings
{
    /// <summary><c>--model</c>: a model trained with <c>--optimizer Pilot</c>.</summary>
    public string Model { get; init; } = CliDefaults.ModelPath;

    /// <summary><c>--out</c>: the policy JSON to write.</summary>
    public string Out { get; init; } = CliDefaults.PolicyPath;
}

/// <summary><c>pilot evaluate</c>.</summary>
internal sealed class EvaluateCommand
{
    public readonly Option<string> Model = OptionFactory.WithDefault("--model", "Model written by 'pilot train'.", CliDefaults.ModelPath, "FILE");

    public readonly Option<string?> Data = OptionFactory.Optional<string>("--data",
        "Data to evaluate on: an image folder (every image), or the test split of a FashionMNIST/MNIST IDX or CIFAR-10 binary folder. " +
        "[default: as for 'pilot train']", "PATH");

    public IReadOnlyList<Option> All => [Model, Data];

    public Command Create(Func<EvaluateSettings, int> execute)
    {
        var command = new Command("evaluate", "Evaluate a trained model: accuracy, macro-F1, log-loss, per-class precision/recall, confusion matrix.");
        foreach (var option in All)
            command.Options.Add(option);
        command.SetAction(parse => execute(Bind(parse)));
        return command;
    }

    public EvaluateSettings Bind(ParseResult parse) => new() { Model = parse.GetValue(Model)!, Data = parse.GetValue(Data) };
}

/// <summary><c>pilot predict</c>.</summary>
internal sealed class PredictCommand
{
    public readonly Option<string> Model = OptionFactory.WithDefault("--model", "Model written by 'pilot train'.", CliDefaults.ModelPath, "FILE");

    public readonly Option<int> Top = OptionFactory.AtLeast("--top", "Labels to print per image, most probable first.", CliDefaults.TopK, 1);

    public readonly Argument<string[]> Images = new("IMAGE")
    {
        Description = "Image files to classify (PNG, JPEG, BMP, GIF); resized to the model's input size.",
        Arity = ArgumentArity.OneOrMore,
    };

    public IReadOnlyList<Option> All => [Model, Top];

    public Command Create(Func<PredictSettings, int> execute)
    {
        var command = new Command("predict", "Classify image files with a trained model: the top labels with probabilities per image.");
        foreach (var option in All)
            command.Options.Add(option);
        command.Arguments.Add(Images);
        command.SetAction(parse => execute(Bind(parse)));
        return command;
    }

    public PredictSettings Bind(ParseResult parse) => new()
    {
        Model = parse.GetValue(Model)!,
        Top = parse.GetValue(Top),
        Images = parse.GetValue(Images) ?? [],
    };
}

/// <summary><c>pilot policy export</c>.</summary>
internal sealed class PolicyExportCommand
{
    public readonly Option<string> Model = OptionFactory.WithDefault("--model", "Model trained with --optimizer Pilot.", CliDefaults.ModelPath, "FILE");

    public readonly Option<string> Out = OptionFactory.WithDefault("--out", "Policy JSON to write.", CliDefaults.PolicyPath, "FILE");

    public IReadOnlyList<Option> All => [Model, Out];

    public Command Create(Func<PolicyExportSettings, int> execute)
    {
        var export = new Command("export",
            "Write the PILOT policy a model learned to a JSON file, for 'pilot train --policy FILE [--freeze-policy]' (policy transfer).");
        foreach (var option in All)
            export.Options.Add(option);
        export.SetAction(parse => execute(Bind(parse)));
        return new Command("policy", "Work with learned PILOT policies.") { export };
    }

    public PolicyExportSettings Bind(ParseResult parse) => new() { Model = parse.GetValue(Model)!, Out = parse.GetValue(Out)! };
}

/// <summary>What <c>pilot export onnx</c> was asked to do.</summary>
internal sealed record ExportOnnxSettings
{
    /// <summary><c>--model</c>: a model written by <c>pilot train</c>.</summary>
    public string Model { get; init; } = CliDefaults.ModelPath;

    /// <summary><c>--out</c>: the ONNX file to write.</summary>
    public string Out { get; init; } = CliDefaults.OnnxPath;
}

/// <summary><c>pilot export onnx</c>.</summary>
internal sealed class ExportOnnxCommand
{
    public readonly Option<string> Model = OptionFactory.WithDefault("--model", "Model written by 'pilot train'.", CliDefaults.ModelPath, "FILE");

    public readonly Option<string> Out = OptionFactory.WithDefault("--out", "ONNX file to write.", CliDefaults.OnnxPath, "FILE");

    public IReadOnlyList<Option> All => [Model, Out];

    public Command Create(Func<ExportOnnxSettings, int> execute)
    {
        var onnx = new Command("onnx",
            "Write the model's network as an ONNX file (input: raw pixels at the model's input size; output: class probabilities), for scoring without TorchSharp.");
        foreach (var option in All)
            onnx.Options.Add(option);
        onnx.SetAction(parse => execute(Bind(parse)));
        return new Command("export", "Export a trained model to other formats.") { onnx };
    }

    public ExportOnnxSettings Bind(ParseResult parse) => new() { Model = parse.GetValue(Model)!, Out = parse.GetValue(Out)! };
}
