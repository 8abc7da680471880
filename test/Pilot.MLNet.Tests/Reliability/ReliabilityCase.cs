using System.Reflection;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// One row of the reliability table: a bad (or awkward) input, what it is, and what the library must do with it — throw a
/// managed exception of <see cref="Expected"/> type, with <see cref="ParamName"/> and a message holding every
/// <see cref="Fragments"/> entry (the column, file or argument, and the fix) — or, when <see cref="Expected"/> is
/// <see langword="null"/>, work (<see cref="Act"/> asserts the result itself).
/// </summary>
/// <param name="Name">Short unique name (also the row of docs/reliability.md).</param>
/// <param name="Input">What the case feeds in, for the table.</param>
/// <param name="Act">Runs the case.</param>
/// <param name="Expected">The exception type, or <see langword="null"/> when the case must work.</param>
/// <param name="ParamName">The <see cref="ArgumentException.ParamName"/> expected, or <see langword="null"/> to not check it.</param>
/// <param name="Fragments">Substrings the message must contain.</param>
/// <param name="Via">ML.NET exceptions wrapped around the expected one, outermost first: <c>mlContext.Model.Load</c> wraps a
/// loader's exception in a <see cref="TargetInvocationException"/> (and that, for ML.NET's own checks, in an
/// <see cref="InvalidOperationException"/>), and a data-view cursor that scores rows on several threads wraps a row's
/// exception in an <see cref="InvalidOperationException"/>.</param>
/// <param name="Works">For working cases: what happens, for the table.</param>
internal sealed record ReliabilityCase(string Name, string Input, Action Act, Type? Expected, string? ParamName, string[] Fragments,
    Type[]? Via = null, string? Works = null)
{
    /// <summary>How <c>mlContext.Model.Load</c> hands on an exception thrown by a loader.</summary>
    public static readonly Type[] ModelLoad = [typeof(TargetInvocationException)];

    /// <summary>How <c>mlContext.Model.Load</c> hands on an exception thrown by ML.NET's own model-header checks.</summary>
    public static readonly Type[] ModelLoadMLNetCheck = [typeof(InvalidOperationException), typeof(TargetInvocationException)];

    /// <summary>Longest a case may run before it counts as a hang.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static ReliabilityCase Throws<T>(string name, string input, Action act, string? paramName, params string[] fragments)
        where T : Exception => new(name, input, act, typeof(T), paramName, fragments);

    /// <summary>A case whose exception comes out of <c>mlContext.Model.Load</c> (wrapped by ML.NET's component catalog).</summary>
    public static ReliabilityCase LoadThrows<T>(string name, string input, Action act, params string[] fragments)
        where T : Exception => new(name, input, act, typeof(T), null, fragments, ModelLoad);

    public static ReliabilityCase Working(string name, string input, string outcome, Action act) =>
        new(name, input, act, null, null, [], Works: outcome);

    /// <summary>What the case gets, as the table shows it.</summary>
    public string Outcome => Expected is null
        ? $"works: {Works}"
        : string.Concat((Via ?? []).Select(v => $"`{v.Name}` → ")) +
          $"`{Expected.Name}`" + (ParamName is null ? "" : $" (ParamName `{ParamName}`)") +
          ": " + string.Join(" … ", Fragments.Select(f => $"“{f}”"));

    public override string ToString() => Name;

    /// <summary>Runs the case on a worker thread with <see cref="Timeout"/> and checks the outcome.</summary>
    public void Check()
    {
        var run = Task.Run(() =>
        {
            try
            {
                Act();
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        });
        if (!run.Wait(Timeout))
            Assert.Fail($"{Name}: no result after {Timeout.TotalSeconds} s (a hang).");
        var thrown = run.Result;
        if (Expected is null)
        {
            if (thrown is not null)
                Assert.Fail($"{Name}: expected to work, but threw {thrown}");
            return;
        }
        Assert.IsNotNull(thrown, $"{Name}: expected {Expected.Name}, but nothing was thrown.");
        foreach (var wrapper in Via ?? [])
        {
            Assert.AreEqual(wrapper, thrown.GetType(), $"{Name}: expected ML.NET's {wrapper.Name} around the exception: {thrown}");
            thrown = thrown.InnerException ?? throw new AssertFailedException($"{Name}: {wrapper.Name} without an inner exception: {thrown}");
        }
        Assert.AreEqual(Expected, thrown.GetType(), $"{Name}: wrong exception type: {thrown}");
        if (ParamName is not null)
            Assert.AreEqual(ParamName, ((ArgumentException)thrown).ParamName, $"{Name}: ParamName of {thrown}");
        foreach (var fragment in Fragments)
            StringAssert.Contains(thrown.Message, fragment, $"{Name}: the message lacks “{fragment}”");
    }
}
