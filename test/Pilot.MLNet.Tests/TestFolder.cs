namespace Pilot.MLNet.Tests;

/// <summary>A fresh folder under the system temporary folder, deleted (with what the test wrote into it) on dispose.</summary>
internal sealed class TestFolder : IDisposable
{
    /// <summary>The folder's full path.</summary>
    public string Path { get; } = Directory.CreateTempSubdirectory("pilot-tests-").FullName;

    /// <summary>The path of <paramref name="name"/> inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { } // a file still open on this platform: the system's temporary folder is cleaned anyway
    }
}
