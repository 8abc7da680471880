namespace Pilot.MLNet;

/// <summary>The shape of one image tensor as the network sees it: channels × height × width (CHW order).</summary>
/// <param name="Channels">1 (gray) or 3 (colour).</param>
/// <param name="Height">Height in pixels, ≥ 1.</param>
/// <param name="Width">Width in pixels, ≥ 1.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Number of values in one image: <c>Channels × Height × Width</c>.</summary>
    public int Size => checked(Channels * Height * Width);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="argumentName"/> unless channels is 1 or 3 and both sides are in [1, 4096].</summary>
    public void Validate(string argumentName)
    {
        if (Channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(argumentName, Channels, $"{argumentName}.Channels must be 1 (gray) or 3 (colour); got {Channels}.");
        if (Height is < 1 or > 4096)
            throw new ArgumentOutOfRangeException(argumentName, Height, $"{argumentName}.Height must be in [1, 4096]; got {Height}.");
        if (Width is < 1 or > 4096)
            throw new ArgumentOutOfRangeException(argumentName, Width, $"{argumentName}.Width must be in [1, 4096]; got {Width}.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
