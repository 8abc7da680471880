// Usage: Pilot.MLNet.ScoringHost <model.zip> <data.idv> <scores.bin>
// Loads the model with mlContext.Model.Load (no registration call), scores the ML.NET binary data file, and writes, per
// row, the predicted key (uint) and the score vector (int length, then floats), little-endian. Exit code 0 on success.
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Pilot.MLNet.ScoringHost <model.zip> <data.idv> <scores.bin>");
    return 2;
}

var mlContext = new MLContext(seed: 1);
var model = mlContext.Model.Load(args[0], out _);
var data = mlContext.Data.LoadFromBinary(args[1]);
var scored = model.Transform(data);

using var output = new BinaryWriter(File.Create(args[2]));
using var cursor = scored.GetRowCursor(scored.Schema);
var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
VBuffer<float> score = default;
uint predicted = 0;
int rows = 0;
while (cursor.MoveNext())
{
    getScore(ref score);
    getPredicted(ref predicted);
    output.Write(predicted);
    output.Write(score.Length);
    foreach (float v in score.DenseValues())
        output.Write(v);
    rows++;
}
Console.WriteLine($"{model.GetType().Name}: scored {rows} rows");
return 0;
