using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public class AlignedBufferTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(100_003)]
    public unsafe void PointerIsCacheLineAlignedAndEveryFloatIsUsable(long length)
    {
        for (int i = 0; i < 8; i++)
        {
            var buffer = new AlignedBuffer(length, zeroed: true);
            Assert.Equal(0, (long)buffer.Ptr % 64);
            Assert.Equal(length, buffer.Length);
            var span = buffer.AsSpan();
            Assert.Equal(length, span.Length);
            Assert.All(span.ToArray(), v => Assert.Equal(0f, v));
            span.Fill(3f);
            if (length > 0) Assert.Equal(3f, buffer.Ptr[length - 1]);
        }
    }

    [Fact]
    public void RejectsNegativeAndTooLargeLengths()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(-1));
        var e = Assert.Throws<ArgumentException>(() => new AlignedBuffer(Array.MaxLength));
        Assert.Contains("larger than one array", e.Message);
    }
}
