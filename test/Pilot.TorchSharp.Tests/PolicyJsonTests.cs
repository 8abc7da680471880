namespace Pilot.TorchSharp.Tests;

[TestClass]
public sealed class PolicyJsonTests
{
    [TestMethod]
    public void JsonRoundTripIsExact()
    {
        var policy = new PilotPolicy(2, [0.1, -1e-300, 1.4, Math.PI, 1.0 / 3, 3.0, -0.0, 5e-324, -2.0]);
        var back = PilotPolicy.FromJson(policy.ToJson());
        Assert.AreEqual(policy, back);
        CollectionAssert.AreEqual(policy.Phi, back.Phi);
        Assert.AreEqual(2, back.Degree);
        StringAssert.Contains(policy.ToJson(), "\"format\": \"pilot-policy\"");
    }

    [TestMethod]
    public void DefaultPolicyHasTheInitialConstants()
    {
        CollectionAssert.AreEqual(new[] { 0, 1.4, 0, 3.0, 0, -2.0 }, PilotPolicy.Default(1).Phi);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 1.4, 0, 0, 0, 3.0, 0, 0, 0, -2.0 }, PilotPolicy.Default(3).Phi);
    }

    [TestMethod]
    public void PhiIsACopy()
    {
        var policy = PilotPolicy.Default();
        policy.Phi[2] = 99;
        Assert.AreEqual(1.4, policy.Phi[2]);
    }

    [TestMethod]
    [DataRow("not json", "could not be parsed")]
    [DataRow("[1, 2]", "must be an object")]
    [DataRow("{\"format\":\"other\",\"version\":1,\"degree\":1,\"phi\":[0,1.4,0,3,0,-2]}", "found format \"other\"")]
    [DataRow("{\"format\":\"pilot-policy\",\"version\":2,\"degree\":1,\"phi\":[0,1.4,0,3,0,-2]}", "version 2 is not supported")]
    [DataRow("{\"format\":\"pilot-policy\",\"version\":1,\"phi\":[0,1.4,0,3,0,-2]}", "no \"degree\" field")]
    [DataRow("{\"format\":\"pilot-policy\",\"version\":1,\"degree\":2,\"phi\":[0,1.4,0,3,0,-2]}", "9 coefficients for degree 2; got 6")]
    [DataRow("{\"format\":\"pilot-policy\",\"version\":1,\"degree\":1,\"phi\":[0,1.4,0,\"x\",0,-2]}", "invalid")]
    public void InvalidJsonIsRejectedWithAReason(string json, string reason)
    {
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotPolicy.FromJson(json));
        StringAssert.Contains(e.Message, reason);
    }
}
