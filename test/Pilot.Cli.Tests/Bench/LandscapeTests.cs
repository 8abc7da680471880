using System.Text.Json;
using Pilot.Cli.Bench;
using Pilot.MLNet;
using Pilot.MLNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class LandscapeTests
{
    private const long P = 1_000;

    /// <summary>A seeded generator of its own (the default generator is shared with other tests).</summary>
    private static Generator Rng(ulong seed) => new(seed);

    private static Tensor Random(Generator g, long n = P) => torch.randn(n, generator: g);

    private static double Dot(Tensor a, Tensor b) => a.to(ScalarType.Float64).dot(b.to(ScalarType.Float64)).item<double>();

    [TestMethod]
    public void Plane_DirectionsAreOrthonormal_AndExplainedSharesAreAtMostOne()
    {
        using var g = Rng(1);
        using var origin = Random(g);
        var points = Enumerable.Range(0, 12).Select(_ => origin + Random(g)).ToList();
        using var plane = LandscapePlane.FromTrajectories(origin, points);

        Assert.AreEqual(1.0, Dot(plane.Direction1, plane.Direction1), 1e-12);
        Assert.AreEqual(1.0, Dot(plane.Direction2, plane.Direction2), 1e-12);
        Assert.AreEqual(0.0, Dot(plane.Direction1, plane.Direction2), 1e-12);
        Assert.IsGreaterThan(0.0, plane.Explained2);
        Assert.IsGreaterThanOrEqualTo(plane.Explained2, plane.Explained1, "the first direction carries the most");
        Assert.IsLessThanOrEqualTo(1.0, plane.Explained1 + plane.Explained2 + 1e-12);
        Assert.AreEqual(P, plane.Length);
    }

    [TestMethod]
    public void Plane_PointsInAPlaneThroughTheOrigin_ReconstructFromTheirProjection()
    {
        using var g = Rng(2);
        using var origin = Random(g);
        using var u = Random(g);
        using var w = Random(g);
        double[] a = [0.5, 1.0, 1.5, -0.3, 2.0], b = [0.1, -0.4, 0.9, 0.2, -1.1];
        var points = a.Select((ai, i) => origin + u * ai + w * b[i]).ToList();
        using var plane = LandscapePlane.FromTrajectories(origin, points);

        Assert.AreEqual(1.0, plane.Explained1 + plane.Explained2, 1e-9, "every displacement lies in the plane");
        foreach (var p in points)
        {
            var (alpha, beta) = plane.Project(p);
            using var back = plane.At(alpha, beta);
            Assert.AreEqual(0.0, (back - p).abs().max().item<float>(), 1e-4, "θ₀ + α v₁ + β v₂ is the point again");
            Assert.AreEqual(0.0, plane.OffPlane(p), 1e-6);
        }
        // The origin is (0, 0) and θ₀ itself.
        var (a0, b0) = plane.Project(origin);
        Assert.AreEqual(0.0, a0, 1e-12);
        Assert.AreEqual(0.0, b0, 1e-12);
        using var atOrigin = plane.At(0, 0);
        Assert.IsTrue(atOrigin.eq(origin).all().item<bool>(), "(0, 0) gives back the initial weights exactly");
    }

    [TestMethod]
    public void Plane_FirstDirectionFollowsTheLongestDisplacement_AndOffPlaneMeasuresTheRest()
    {
        using var g = Rng(3);
        using var origin = torch.zeros(P);
        using var e1 = torch.zeros(P);
        e1[0] = 1;
        using var e2 = torch.zeros(P);
        e2[1] = 1;
        // Long steps along e1, short along e2, uncorrelated (Σ aᵢbᵢ = 10·2 − 20·1 + 30·0 = 0): v₁ = ±e1, v₂ = ±e2.
        var points = new List<Tensor> { e1 * 10 + e2 * 2, e1 * 20 - e2, e1 * 30 };
        using var plane = LandscapePlane.FromTrajectories(origin, points);
        Assert.AreEqual(1.0, Math.Abs(Dot(plane.Direction1, e1)), 1e-9);
        Assert.AreEqual(1.0, Math.Abs(Dot(plane.Direction2, e2)), 1e-9);

        // A point with a component along e3: its share off the plane is |e3 part| / |displacement|.
        using var e3 = torch.zeros(P);
        e3[2] = 1;
        using var off = e1 * 3 + e3 * 4;
        Assert.AreEqual(4.0 / 5.0, plane.OffPlane(off), 1e-9);
        Assert.AreEqual(5.0, plane.Distance(off), 1e-9);
        var (alpha, beta) = plane.Project(off);
        Assert.AreEqual(3.0, Math.Abs(alpha), 1e-9);
        Assert.AreEqual(0.0, beta, 1e-9);
    }

    [TestMethod]
    public void Plane_TooFewOrCollinearPoints_AreRejectedNamingPoints()
    {
        using var origin = torch.zeros(P);
        using var e1 = torch.ones(P);
        var one = Assert.ThrowsExactly<ArgumentException>(() => LandscapePlane.FromTrajectories(origin, [e1]));
        Assert.AreEqual("points", one.ParamName);
        Assert.Contains("at least two", one.Message);
        var line = Assert.ThrowsExactly<ArgumentException>(() => LandscapePlane.FromTrajectories(origin, [e1, e1 * 2, e1 * -1]));
        Assert.AreEqual("points", line.ParamName);
        Assert.Contains("fewer than two directions", line.Message);
        var length = Assert.ThrowsExactly<ArgumentException>(() => LandscapePlane.FromTrajectories(origin, [e1, torch.ones(P + 1)]));
        Assert.Contains("points[1]", length.Message);
    }

    [TestMethod]
    public void Loss_GridAtTheOrigin_EqualsTheLossOfTheInitialWeights_AndIsDeterministic()
    {
        torch.random.manual_seed(7);
        using var network = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 8, 8), 3);
        using var g = Rng(4);
        using var images = torch.randn([40, 1, 8, 8], generator: g);
        using var labels = torch.randint(0, 3, [40], generator: g);
        using var start = FlatWeights.Read(network);
        Assert.AreEqual(FlatWeights.Count(network), start.shape[0]);
        var points = new List<Tensor> { start + Random(g, start.shape[0]) * 0.05f, start + Random(g, start.shape[0]) * 0.05f, start + Random(g, start.shape[0]) * 0.1f };
        using var plane = LandscapePlane.FromTrajectories(start, points);
        using var loss = new LandscapeLoss(network, images, labels);

        double atStart = loss.At(start);
        var grid = loss.Grid(plane, [-0.5, 0.0, 0.5], [0.0, 0.25]);
        Assert.AreEqual(atStart, grid[1, 0], 0.0, "the grid point (0, 0) is the initial weights");
        Assert.AreEqual(atStart, loss.At(start), 0.0, "same weights, same loss");
        Assert.AreNotEqual(atStart, grid[0, 1], "elsewhere the loss differs");

        // The loss is the mean cross-entropy with dropout off and batch statistics: the network in training mode, dropout
        // evaluated in one batch (40 < LandscapeLoss.BatchSize) gives the same number.
        FlatWeights.Write(network, start);
        network.train();
        foreach (var m in network.modules())
            if (m is global::TorchSharp.Modules.Dropout) m.eval();
        using (no_grad())
        {
            double direct = nn.functional.cross_entropy(network.forward(images), labels).item<float>();
            Assert.AreEqual(direct, atStart, 1e-5);
        }
    }

    [TestMethod]
    public void FlatWeights_WriteThenRead_RoundTrips_AndAWrongLengthIsRejected()
    {
        torch.random.manual_seed(8);
        using var network = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 8, 8), 3);
        using var g = Rng(5);
        using var weights = Random(g, FlatWeights.Count(network));
        FlatWeights.Write(network, weights);
        using var back = FlatWeights.Read(network);
        Assert.IsTrue(back.eq(weights).all().item<bool>());
        var e = Assert.ThrowsExactly<ArgumentException>(() => FlatWeights.Write(network, torch.zeros(3)));
        Assert.AreEqual("weights", e.ParamName);
    }

    [TestMethod]
    public void GridAxes_CoverEveryPointAndTheOrigin_WithAMargin()
    {
        var (alpha, beta) = LandscapeBenchmark.GridAxes([new LandscapePoint(0, 0, 0), new LandscapePoint(5, 2, -1), new LandscapePoint(9, 4, 1)], 5);
        Assert.HasCount(5, alpha);
        Assert.AreEqual(-LandscapeBenchmark.Margin * 4, alpha[0], 1e-12);
        Assert.AreEqual(4 + LandscapeBenchmark.Margin * 4, alpha[^1], 1e-12);
        Assert.AreEqual(-1 - LandscapeBenchmark.Margin * 2, beta[0], 1e-12);
        Assert.AreEqual(1 + LandscapeBenchmark.Margin * 2, beta[^1], 1e-12);
    }

    [TestMethod]
    public void BenchLandscape_TinySettings_WritesThePngAndTheJsonBesideIt()
    {
        using var folder = new TempFolder();
        string png = folder["figs/landscape.png"];
        var services = new CliServices { SystemFashionMnistFolder = folder["not-installed"] };
        var result = CliRunner.Run(services, "bench", "landscape", "--device", "cpu", "--optimizers", "Pilot,AdamW", "--epochs", "1",
            "--train-images", "256", "--points", "2", "--grid", "3", "--subset", "64", "--out", png);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.Contains("embedded FashionMNIST subset", result.Out);
        Assert.Contains("loss landscape", result.Out);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);

        using var doc = JsonDocument.Parse(File.ReadAllText(folder["figs/landscape.json"]));
        var root = doc.RootElement;
        Assert.AreEqual("SmallCnn", root.GetProperty("model").GetString());
        Assert.AreEqual(256, root.GetProperty("train_images").GetInt32());
        Assert.AreEqual(64, root.GetProperty("subset_images").GetInt32());
        var grid = root.GetProperty("grid");
        Assert.AreEqual(3, grid.GetProperty("alpha").GetArrayLength());
        Assert.AreEqual(3, grid.GetProperty("beta").GetArrayLength());
        Assert.IsTrue(grid.GetProperty("loss").EnumerateArray().All(row => row.GetArrayLength() == 3 && row.EnumerateArray().All(v => double.IsFinite(v.GetDouble()))));
        double startLoss = root.GetProperty("start_loss").GetDouble();
        Assert.IsGreaterThan(0.0, startLoss);

        var optimizers = root.GetProperty("optimizers").EnumerateArray().ToList();
        CollectionAssert.AreEqual(new[] { "Pilot", "AdamW" }, optimizers.Select(o => o.GetProperty("optimizer").GetString()).ToArray());
        foreach (var o in optimizers)
        {
            // 256 images, batch 128: 2 steps; recorded: the start and both steps.
            Assert.AreEqual(2, o.GetProperty("steps").GetInt64());
            var points = o.GetProperty("points").EnumerateArray().ToList();
            CollectionAssert.AreEqual(new long[] { 0, 1, 2 }, points.Select(p => p.GetProperty("step").GetInt64()).ToArray());
            Assert.AreEqual(0.0, points[0].GetProperty("alpha").GetDouble(), 1e-9, "every trajectory starts at the origin");
            Assert.AreEqual(0.0, points[0].GetProperty("beta").GetDouble(), 1e-9);
            Assert.AreEqual(1e-3, o.GetProperty("learning_rate").GetDouble(), "the paper protocol's learning rate");
            double end = o.GetProperty("end_loss").GetDouble();
            Assert.IsTrue(double.IsFinite(end) && end > 0);
            Assert.AreNotEqual(startLoss, end, "the optimizer moved the weights");
            Assert.IsGreaterThan(0.0, o.GetProperty("end_distance").GetDouble());
        }
        var plane = root.GetProperty("plane");
        Assert.IsGreaterThan(0.0, plane.GetProperty("explained_pc1").GetDouble());
        Assert.AreEqual(421_834, plane.GetProperty("weights").GetInt64(), "SmallCnn's weights on 28×28 images, 10 classes (as in bench optimizer)");

        // --from redraws the figure from the JSON without training, and writes the same numbers beside the new PNG.
        var redraw = CliRunner.Run(services, "bench", "landscape", "--from", folder["figs/landscape.json"], "--out", folder["again/l.png"]);
        Assert.AreEqual(0, redraw.ExitCode, redraw.ToString());
        Assert.DoesNotContain("training SmallCnn", redraw.Out);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(folder["again/l.png"])[..4]);
        Assert.AreEqual(File.ReadAllText(folder["figs/landscape.json"]), File.ReadAllText(folder["again/l.json"]));
    }

    [TestMethod]
    public void BenchLandscape_FromAFileThatIsNotItsJson_ExitsWith2_NamingFrom()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder["other.json"], "{\"runs\": []}");
        foreach (var from in new[] { folder["other.json"], folder["missing.json"] })
        {
            var result = CliRunner.Run("bench", "landscape", "--from", from, "--out", folder["x.png"]);
            Assert.AreEqual(2, result.ExitCode, result.ToString());
            Assert.Contains("--from", result.Error);
            Assert.IsFalse(File.Exists(folder["x.png"]));
        }
    }

    [TestMethod]
    [DataRow("--out", "figure.svg", "must end in .png")]
    [DataRow("--subset", "300", "must not exceed")]
    [DataRow("--train-images", "100000", "has 6,000 training images")]
    public void BenchLandscape_BadArgument_ExitsWith2_NamingIt(string option, string value, string message)
    {
        using var folder = new TempFolder();
        var services = new CliServices { SystemFashionMnistFolder = folder["not-installed"] };
        string[] args = ["bench", "landscape", "--device", "cpu", "--train-images", "200", "--out", folder["x.png"]];
        int i = Array.IndexOf(args, option);
        args = i >= 0 ? [.. args[..(i + 1)], value, .. args[(i + 2)..]] : [.. args, option, value];
        var result = CliRunner.Run(services, args);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains(option, result.Error, result.ToString());
        Assert.Contains(message, result.Error, result.ToString());
        Assert.IsFalse(File.Exists(folder["x.png"]));
    }
}
