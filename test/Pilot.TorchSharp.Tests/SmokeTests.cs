using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

[TestClass]
public sealed class SmokeTests
{
    [TestMethod]
    public void TorchSharpLoadsAndComputes()
    {
        using var a = tensor(new float[] { 1, 2, 3 });
        Assert.AreEqual(14f, (a * a).sum().item<float>());
    }
}
