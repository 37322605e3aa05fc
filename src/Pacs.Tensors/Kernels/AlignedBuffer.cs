using System.Runtime.CompilerServices;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// Floats in a pinned array (it never moves), seen through a pointer aligned to 64 bytes: a cache line. A 16-float
/// vector load from it never straddles two lines, and two threads writing different 16-float blocks of it never
/// write the same line.
/// </summary>
public sealed unsafe class AlignedBuffer
{
    private const int SlackFloats = 16;

    // Holds the memory that Ptr points into.
    private readonly float[] _array;

    public static AlignedBuffer Empty { get; } = new(0);

    /// <param name="length">Floats usable from <see cref="Ptr"/>.</param>
    /// <param name="zeroed">Start as zeros (else the contents are whatever the allocator left).</param>
    public AlignedBuffer(long length, bool zeroed = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length + SlackFloats > Array.MaxLength) throw new ArgumentException($"a buffer of {length} floats is larger than one array can hold");
        int total = (int)length + SlackFloats;
        _array = zeroed ? GC.AllocateArray<float>(total, pinned: true) : GC.AllocateUninitializedArray<float>(total, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref _array[0]);
        Ptr = (float*)((address + 63) & ~(nint)63);
        Length = length;
    }

    public float* Ptr { get; }

    public long Length { get; }

    public Span<float> AsSpan() => new(Ptr, checked((int)Length));
}
