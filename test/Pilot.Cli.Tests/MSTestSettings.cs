[assembly: Parallelize(Scope = ExecutionScope.ClassLevel, Workers = 0)]

namespace Pilot.Cli.Tests
{
    /// <summary>Run-wide cleanup of the shared fixtures' temporary folders.</summary>
    [TestClass]
    public static class AssemblyFixtures
    {
        [AssemblyCleanup]
        public static void DeleteTemporaryFolders() => Codegen.CodegenFixtures.DeleteRoot();
    }
}
