using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// How generated code lays tensors out in memory. Rank-4 activations are channels-last (NHWC), which
    /// the convolution kernels need (a pixel's channels are contiguous int16 pairs); every other rank is
    /// row-major as in ONNX. Shapes and axes in the IR stay logical (NCHW); these strides map a logical
    /// index to its place in memory.
    /// </summary>
    public static class Layouts
    {
        public static bool IsChannelsLast(int[] shape) => shape.Length == 4;

        /// <summary>Memory stride of each logical axis.</summary>
        public static int[] Strides(int[] shape)
        {
            if (!IsChannelsLast(shape)) return Shapes.Strides(shape);
            int c = shape[1], h = shape[2], w = shape[3];
            return new[] { h * w * c, 1, w * c, c };
        }

        /// <summary>True when memory order equals logical row-major order (any rank-4 tensor with one pixel or one channel, too).</summary>
        public static bool IsRowMajor(int[] shape) =>
            Strides(shape).Where((s, d) => shape[d] > 1).SequenceEqual(Shapes.Strides(shape).Where((s, d) => shape[d] > 1));

        public static bool IsRowMajor(QTensor tensor) => IsRowMajor(tensor.Shape);

        /// <summary>The memory shape of a tensor: [N, H, W, C] for rank 4, the logical shape otherwise.</summary>
        public static int[] MemoryShape(int[] shape) => IsChannelsLast(shape) ? new[] { shape[0], shape[2], shape[3], shape[1] } : shape;

        /// <summary>The memory axis that holds logical axis <paramref name="axis"/>.</summary>
        public static int MemoryAxis(int[] shape, int axis) => !IsChannelsLast(shape) ? axis : axis switch { 0 => 0, 1 => 3, 2 => 1, _ => 2 };
    }
}
