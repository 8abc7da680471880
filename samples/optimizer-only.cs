// Uses the PILOT optimizer in plain TorchSharp, without ML.NET: for when you write your own training loop.
//
// PILOT is Adam whose update form is chosen every step by a tiny learned policy: from how much successive gradients agree
// (ρ) it sets three knobs, p_m (how much momentum), p_v (how much Adam-style variance normalisation) and p_s (how much
// sign compression), and it learns the policy's coefficients φ while training. This sample trains a small network on a
// made-up problem (points on three interleaved spirals, labelled by spiral) with PILOT and a cosine learning-rate schedule,
// and prints the knobs as training goes.
//
// Run from the repository root:
//   dotnet run samples/optimizer-only.cs
// Settings (environment variables):
//   PILOT_SAMPLE_EPOCHS   passes over the data (default 10)
//   PILOT_SAMPLE_POINTS   points per spiral (default 500)
//   PILOT_SAMPLE_OUTPUT   folder for policy.json, the learned policy (default: <temp>/pilot-samples)
#:project ../src/Pilot.TorchSharp/Pilot.TorchSharp.csproj

using Pilot.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

int epochs = Setting("PILOT_SAMPLE_EPOCHS", 10);
int pointsPerClass = Setting("PILOT_SAMPLE_POINTS", 500);
const int classes = 3, batchSize = 64;

torch.manual_seed(1); // fixed seed: the same weights, batches and results on every run (on the CPU)
var (inputs, labels) = Spirals(pointsPerClass, classes, new Random(1));
long count = inputs.shape[0];
int stepsPerEpoch = (int)((count + batchSize - 1) / batchSize);

// A small network: 2 inputs (x, y) → 64 → 64 → one score (logit) per class.
var model = nn.Sequential(
    ("hidden1", nn.Linear(2, 64)), ("relu1", nn.ReLU()),
    ("hidden2", nn.Linear(64, 64)), ("relu2", nn.ReLU()),
    ("output", nn.Linear(64, classes)));

// PILOT is used like torch.optim.Adam. diagnostics: true records r, ρ and the knobs of every step (it reads them back
// from the device each step, so leave it off when you do not look at them). Other arguments keep their defaults
// (PilotDefaults): β1 0.9, β2 0.999, weight decay 0.01, γ 0.95, η_φ 0.01, policy degree 2.
var optimizer = new PilotOptimizer(model.parameters(), lr: 0.01, diagnostics: true);

// Any torch.optim.lr_scheduler works with it; here the learning rate falls from 0.01 to 0 along a cosine, stepped per batch.
var scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max: epochs * stepsPerEpoch);

Console.WriteLine($"{count} points, {classes} classes, {epochs} epochs of {stepsPerEpoch} steps");
Console.WriteLine("epoch   loss  accuracy        lr  |   mean p_m  mean p_v  mean p_s  |    ρ");
for (int epoch = 1; epoch <= epochs; epoch++)
{
    model.train();
    using var order = randperm(count); // a new order every epoch
    int firstStep = optimizer.Diagnostics.Count;
    double lossSum = 0;
    for (long start = 0; start < count; start += batchSize)
    {
        using var scope = NewDisposeScope(); // frees this step's tensors at the end of the iteration
        var batch = order.narrow(0, start, Math.Min(batchSize, count - start));
        var loss = nn.functional.cross_entropy(model.forward(inputs[batch]), labels[batch]);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        scheduler.step();
        lossSum += loss.item<float>() * batch.shape[0];
    }

    // The knobs PILOT chose during this epoch (averaged over its steps) and the agreement score ρ at its end.
    var steps = optimizer.Diagnostics.Skip(firstStep).ToList();
    double accuracy = Accuracy(model, inputs, labels);
    if (epoch == 1 || epoch % Math.Max(1, epochs / 10) == 0 || epoch == epochs)
        Console.WriteLine($"{epoch,5} {lossSum / count,6:F3} {accuracy,8:P1} {optimizer.ParamGroups.First().LearningRate,9:F5}  |  " +
                          $"{steps.Average(s => s.PM),9:F4} {steps.Average(s => s.PV),9:F4} {steps.Average(s => s.PS),9:F4}  | {steps[^1].Rho,6:F3}");
}

// The policy state after training: the coefficients φ (3 heads × (degree + 1)), ρ and the step count.
var state = optimizer.GetPolicyState();
Console.WriteLine($"policy after {state.Step} steps: ρ = {state.Rho:F3}, φ = [{string.Join(", ", state.Phi.Select(v => v.ToString("F4")))}]");

// ExportPolicy gives the learned policy, saved as JSON here; another run can start from it with
// new PilotOptimizer(parameters, initialPolicy: PilotPolicy.FromJson(File.ReadAllText(path))).
string output = Environment.GetEnvironmentVariable("PILOT_SAMPLE_OUTPUT") ?? Path.Combine(Path.GetTempPath(), "pilot-samples");
Directory.CreateDirectory(output);
string policyPath = Path.Combine(output, "policy.json");
File.WriteAllText(policyPath, optimizer.ExportPolicy().ToJson());
Console.WriteLine($"Wrote {policyPath}");
return 0;

// Points on `classes` interleaved spirals in the plane, with a little noise; the label is the spiral's number.
static (Tensor Inputs, Tensor Labels) Spirals(int pointsPerClass, int classes, Random random)
{
    var xy = new float[pointsPerClass * classes * 2];
    var label = new long[pointsPerClass * classes];
    for (int c = 0, i = 0; c < classes; c++)
    {
        for (int p = 0; p < pointsPerClass; p++, i++)
        {
            double radius = (double)p / pointsPerClass;
            double angle = 4.0 * radius + 2 * Math.PI * c / classes + 0.2 * (random.NextDouble() - 0.5);
            xy[2 * i] = (float)(radius * Math.Cos(angle));
            xy[2 * i + 1] = (float)(radius * Math.Sin(angle));
            label[i] = c;
        }
    }
    return (tensor(xy, [pointsPerClass * classes, 2]), tensor(label));
}

// Fraction of points whose highest-scoring class is their label.
static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor inputs, Tensor labels)
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    model.eval();
    return model.forward(inputs).argmax(1).eq(labels).to(ScalarType.Float64).mean().item<double>();
}

static int Setting(string name, int defaultValue)
{
    string? text = Environment.GetEnvironmentVariable(name);
    if (string.IsNullOrEmpty(text))
        return defaultValue;
    return int.TryParse(text, out int value) && value > 0
        ? value
        : throw new ArgumentOutOfRangeException(name, text, $"{name} must be a whole number ≥ 1; got '{text}'.");
}

// Sample output (dotnet run samples/optimizer-only.cs):
//   1500 points, 3 classes, 10 epochs of 24 steps
//   epoch   loss  accuracy        lr  |   mean p_m  mean p_v  mean p_s  |    ρ
//       1  0.676   82.1 %   0.00976  |     0.8022    0.4763    0.1194  |  0.122
//       2  0.242   95.4 %   0.00905  |     0.8022    0.4763    0.1194  | -0.066
//       3  0.110   96.7 %   0.00794  |     0.8023    0.4763    0.1194  |  0.090
//       4  0.073   98.8 %   0.00655  |     0.8023    0.4763    0.1194  |  0.049
//       5  0.056   99.3 %   0.00500  |     0.8023    0.4763    0.1194  |  0.182
//       6  0.046   99.3 %   0.00345  |     0.8023    0.4763    0.1194  |  0.158
//       7  0.042   99.5 %   0.00206  |     0.8023    0.4763    0.1194  | -0.030
//       8  0.038   99.5 %   0.00095  |     0.8023    0.4763    0.1193  | -0.100
//       9  0.037   99.8 %   0.00024  |     0.8023    0.4763    0.1193  | -0.075
//      10  0.037   99.9 %   0.00000  |     0.8023    0.4763    0.1193  | -0.038
//   policy after 240 steps: ρ = -0.038, φ = [0.0000, 0.0000, 1.4006, 0.0000, 0.0000, 3.0007, 0.0000, 0.0001, -1.9987]
//   Wrote <temp>/pilot-samples/policy.json
