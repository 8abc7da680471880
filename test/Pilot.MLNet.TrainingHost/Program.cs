// Usage: Pilot.MLNet.TrainingHost <model.zip> [--checkpoint-dir DIR] [--pause-at EPOCH BATCH] [--optimizer NAME]
// Trains a SmallCnn for 3 epochs (seed 11, augmentation on, so that every random stream matters) on the first 600
// images of the embedded FashionMNIST sample and saves the model. With --checkpoint-dir it checkpoints after every epoch
// and resumes from the directory's checkpoint. With --pause-at it prints "paused" after that batch of that epoch and then
// sleeps, so that a test can kill it inside the epoch. Prints "resumed" when it resumed from a checkpoint. Exit code 0 on success.
using Microsoft.ML;
using Pilot.MLNet;
using Pilot.MLNet.Data;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Pilot.MLNet.TrainingHost <model.zip> [--checkpoint-dir DIR] [--pause-at EPOCH BATCH] [--optimizer NAME]");
    return 2;
}
string modelPath = args[0];
string? checkpointDirectory = null;
(int Epoch, int Batch)? pause = null;
var optimizer = PilotOptimizerKind.Pilot;
for (int i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--checkpoint-dir": checkpointDirectory = args[++i]; break;
        case "--pause-at": pause = (int.Parse(args[++i]), int.Parse(args[++i])); break;
        case "--optimizer": optimizer = Enum.Parse<PilotOptimizerKind>(args[++i]); break;
        default: Console.Error.WriteLine($"unknown argument '{args[i]}'"); return 2;
    }
}

var ml = new MLContext(seed: 1);
ml.Log += (_, e) =>
{
    if (e.Message.Contains("Resuming from the checkpoint", StringComparison.Ordinal))
        Console.WriteLine($"resumed: {e.Message}");
    if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning)
        Console.WriteLine($"warning: {e.Message}");
};
var sample = PilotDatasets.EmbeddedFashionMnist(ml, train: true);
var data = ml.Data.TakeRows(sample.Data, 600);
data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
var options = new PilotImageClassificationTrainer.Options
{
    Architecture = PilotArchitecture.SmallCnn,
    Optimizer = optimizer,
    Epochs = 3,
    BatchSize = 32,
    LearningRate = 3e-3,
    Augment = true,
    Seed = 11,
    ImageShape = sample.Shape,
    CheckpointDirectory = checkpointDirectory,
    ProgressCallback = r => Console.WriteLine($"epoch {r.Epoch} done"),
    BatchProgressCallback = p =>
    {
        if (pause is { } at && p.Epoch == at.Epoch && p.Batch == at.Batch)
        {
            Console.WriteLine($"paused in epoch {p.Epoch} after batch {p.Batch}");
            Thread.Sleep(Timeout.Infinite);
        }
    },
};
using var model = ml.Pilot.ImageClassification(options).Fit(data);
ml.Model.Save(model, data.Schema, modelPath);
Console.WriteLine($"saved {modelPath}");
return 0;
