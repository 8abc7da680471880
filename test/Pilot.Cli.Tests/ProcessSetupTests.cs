using System.Runtime.InteropServices;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class ProcessSetupTests
{
    [TestMethod]
    public void Apply_PutsThePassiveWaitPolicyInTheNativeEnvironment_UnlessTheUserSetOne()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("The wait policy is set on Linux only.");
        string? before = Marshal.PtrToStringUTF8(ProcessSetup.GetEnv(ProcessSetup.WaitPolicyVariable));
        bool set = ProcessSetup.Apply();
        string? native = Marshal.PtrToStringUTF8(ProcessSetup.GetEnv(ProcessSetup.WaitPolicyVariable));
        if (before is null)
        {
            Assert.IsTrue(set);
            Assert.AreEqual(ProcessSetup.WaitPolicy, native);
        }
        else
        {
            Assert.IsFalse(set, "a value the user set is kept");
            Assert.AreEqual(before, native);
        }
        Assert.IsFalse(ProcessSetup.Apply(), "a second call changes nothing");
    }
}
