using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The handful of exact vector operations the convolution kernels are written in, one implementation per
    /// instruction set. The kernels are generic over it (value-type instantiations are compiled separately, so
    /// every call inlines): one kernel source, one machine-code loop per path. Lanes are int32 output channels.
    /// </summary>
    internal unsafe interface IVectorLanes<TVector> where TVector : unmanaged
    {
        /// <summary>int32 lanes (output channels) per vector.</summary>
        static abstract int Lanes { get; }

        static abstract TVector Load(int* source);

        /// <summary>The int32 at <paramref name="pair"/> (two int16 input channels) in every lane.</summary>
        static abstract TVector BroadcastPair(short* pair);

        /// <summary>acc + (x.lo·w.lo + x.hi·w.hi) per int32 lane, int16 × int16 products: exact, no saturation.</summary>
        static abstract TVector MultiplyAddPairs(TVector acc, TVector x, TVector w);

        /// <summary>The int32 at <paramref name="quad"/> (four uint8 input channels) in every lane.</summary>
        static abstract TVector BroadcastQuad(byte* quad);

        /// <summary>
        /// sums + (u.b0·w.b0 + u.b1·w.b1, u.b2·w.b2 + u.b3·w.b3) per int32 lane as two int16 halves: uint8 × int8 pairs
        /// (vpmaddubsw) added in int16. It saturates or wraps unless the compiler proved from the weights that neither
        /// a pair nor a running sum can leave int16; the byte kernel is chosen only where it did.
        /// </summary>
        static abstract TVector MultiplyAddBytes(TVector sums, TVector u, TVector w);

        /// <summary>acc + (sums.lo + sums.hi) per int32 lane: the two int16 sums widened exactly (vpmaddwd by ones).</summary>
        static abstract TVector AddWidened(TVector acc, TVector sums);

        /// <summary>acc + (int)x[i]·w[i] per lane: the depthwise step, int16 inputs widened to int32.</summary>
        static abstract TVector MultiplyAddWidened(TVector acc, short* x, int* w);

        /// <summary>acc + (int)x[i]·w[i] per lane: the depthwise step on the int8 input itself (Lanes bytes read).</summary>
        static abstract TVector MultiplyAddSignedBytes(TVector acc, sbyte* x, int* w);

        /// <summary>Requantizes the lanes for channels [channel, channel + Lanes), clamps, and stores them as int8.</summary>
        static abstract void Store(sbyte* destination, TVector acc, int channel, in Requantizer r);

        /// <summary>
        /// Requantizes and clamps <paramref name="count"/> vectors of channels [channel, channel + Lanes) in place (int32
        /// lanes within the clamp range), the channels' constants prepared once for all of them.
        /// </summary>
        static abstract void Finish(TVector* values, int count, int channel, in Requantizer r);

        /// <summary>Stores lanes that <see cref="Finish"/> left within int8 as int8.</summary>
        static abstract void StoreFinished(sbyte* destination, TVector finished);

        /// <summary>
        /// The fused residual add (<see cref="Requantizer.ResidualTable"/>) on finished lanes: add(finished, the Lanes int8 at
        /// <paramref name="skip"/>), within int8 (the add's clamp).
        /// </summary>
        static abstract TVector AddResidual(TVector finished, sbyte* skip, in Requantizer r);

        /// <summary><see cref="Store"/> with the fused residual add of the Lanes int8 at <paramref name="skip"/> (read before <paramref name="destination"/> is written: they may be one buffer).</summary>
        static abstract void StoreWithResidual(sbyte* destination, TVector acc, int channel, sbyte* skip, in Requantizer r);
    }

    /// <summary>AVX-512 (F, BW): 16 channels per vector, vpmaddwd on 512 bits.</summary>
    internal readonly unsafe struct Lanes512 : IVectorLanes<Vector512<int>>
    {
        public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported && Avx2.IsSupported;

        public static int Lanes => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> Load(int* source) => Avx512F.LoadVector512(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> BroadcastPair(short* pair) => Vector512.Create(*(int*)pair);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyAddPairs(Vector512<int> acc, Vector512<int> x, Vector512<int> w) =>
            Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(x.AsInt16(), w.AsInt16()));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> BroadcastQuad(byte* quad) => Vector512.Create(*(int*)quad);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyAddBytes(Vector512<int> sums, Vector512<int> u, Vector512<int> w) =>
            Avx512BW.Add(sums.AsInt16(), Avx512BW.MultiplyAddAdjacent(u.AsByte(), w.AsSByte())).AsInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> AddWidened(Vector512<int> acc, Vector512<int> sums) =>
            Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(sums.AsInt16(), Vector512<short>.One));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyAddWidened(Vector512<int> acc, short* x, int* w) =>
            Avx512F.Add(acc, Avx512F.MultiplyLow(Avx512F.ConvertToVector512Int32(Avx.LoadVector256(x)), Avx512F.LoadVector512(w)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyAddSignedBytes(Vector512<int> acc, sbyte* x, int* w) =>
            Avx512F.Add(acc, Avx512F.MultiplyLow(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(x)), Avx512F.LoadVector512(w)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(sbyte* destination, Vector512<int> acc, int channel, in Requantizer r) => StoreFinished(destination, r.Finish(acc, channel));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Finish(Vector512<int>* values, int count, int channel, in Requantizer r) => r.Finish(values, count, channel);

        // Already clamped into int8, so the truncating narrow (vpmovdb) is exact.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreFinished(sbyte* destination, Vector512<int> finished) => Sse2.Store(destination, Avx512F.ConvertToVector128SByte(finished));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> AddResidual(Vector512<int> finished, sbyte* skip, in Requantizer r) =>
            AddTable.Lookup(finished, Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(skip)), r.ResidualTable);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreWithResidual(sbyte* destination, Vector512<int> acc, int channel, sbyte* skip, in Requantizer r) =>
            StoreFinished(destination, AddResidual(r.Finish(acc, channel), skip, r));
    }

    /// <summary>AVX2: 8 channels per vector, vpmaddwd on 256 bits.</summary>
    internal readonly unsafe struct Lanes256 : IVectorLanes<Vector256<int>>
    {
        public static bool IsSupported => Avx2.IsSupported;

        public static int Lanes => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Load(int* source) => Avx.LoadVector256(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> BroadcastPair(short* pair) => Vector256.Create(*(int*)pair);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAddPairs(Vector256<int> acc, Vector256<int> x, Vector256<int> w) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(x.AsInt16(), w.AsInt16()));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> BroadcastQuad(byte* quad) => Vector256.Create(*(int*)quad);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAddBytes(Vector256<int> sums, Vector256<int> u, Vector256<int> w) =>
            Avx2.Add(sums.AsInt16(), Avx2.MultiplyAddAdjacent(u.AsByte(), w.AsSByte())).AsInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> AddWidened(Vector256<int> acc, Vector256<int> sums) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(sums.AsInt16(), Vector256<short>.One));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAddWidened(Vector256<int> acc, short* x, int* w) =>
            Avx2.Add(acc, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(x), Avx.LoadVector256(w)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAddSignedBytes(Vector256<int> acc, sbyte* x, int* w) =>
            Avx2.Add(acc, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(x), Avx.LoadVector256(w)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(sbyte* destination, Vector256<int> acc, int channel, in Requantizer r) => StoreFinished(destination, r.Finish(acc, channel));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Finish(Vector256<int>* values, int count, int channel, in Requantizer r) => r.Finish(values, count, channel);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreFinished(sbyte* destination, Vector256<int> v)
        {
            // Values are already in int8, so the saturating packs are exact; each 128-bit lane keeps four bytes.
            var words = Avx2.PackSignedSaturate(v, v);
            var bytes = Avx2.PackSignedSaturate(words, words).AsInt32();
            *(int*)destination = bytes.GetElement(0);
            *(int*)(destination + 4) = bytes.GetElement(4);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> AddResidual(Vector256<int> finished, sbyte* skip, in Requantizer r) =>
            AddTable.Lookup(finished, Avx2.ConvertToVector256Int32(skip), r.ResidualTable);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreWithResidual(sbyte* destination, Vector256<int> acc, int channel, sbyte* skip, in Requantizer r) =>
            StoreFinished(destination, AddResidual(r.Finish(acc, channel), skip, r));
    }

    /// <summary>
    /// 128-bit vectors: SSE2 on x86, NEON on Arm64 (the pair multiply-add is pmaddwd there and a widening
    /// multiply plus pairwise add here). Four channels per vector; requantization is the scalar definition per lane.
    /// </summary>
    internal readonly unsafe struct Lanes128 : IVectorLanes<Vector128<int>>
    {
        public static bool IsSupported => Sse2.IsSupported || AdvSimd.Arm64.IsSupported;

        public static int Lanes => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Load(int* source) => Vector128.Load(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> BroadcastPair(short* pair) => Vector128.Create(*(int*)pair);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> MultiplyAddPairs(Vector128<int> acc, Vector128<int> x, Vector128<int> w)
        {
            if (Sse2.IsSupported) return Sse2.Add(acc, Sse2.MultiplyAddAdjacent(x.AsInt16(), w.AsInt16()));
            if (AdvSimd.Arm64.IsSupported)
            {
                var low = AdvSimd.MultiplyWideningLower(x.AsInt16().GetLower(), w.AsInt16().GetLower());
                var high = AdvSimd.MultiplyWideningUpper(x.AsInt16(), w.AsInt16());
                return AdvSimd.Add(acc, AdvSimd.Arm64.AddPairwise(low, high));
            }
            throw new PlatformNotSupportedException();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> BroadcastQuad(byte* quad) => Vector128.Create(*(int*)quad);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> MultiplyAddBytes(Vector128<int> sums, Vector128<int> u, Vector128<int> w)
        {
            if (Ssse3.IsSupported) return Sse2.Add(sums.AsInt16(), Ssse3.MultiplyAddAdjacent(u.AsByte(), w.AsSByte())).AsInt32();
            // Without pmaddubsw: the products widened to int16 (255·127 fits) and their adjacent pairs summed.
            var (uLow, uHigh) = Vector128.Widen(u.AsByte());
            var (wLow, wHigh) = Vector128.Widen(w.AsSByte());
            var low = uLow.AsInt16() * wLow;
            var high = uHigh.AsInt16() * wHigh;
            if (AdvSimd.Arm64.IsSupported) return AdvSimd.Add(sums.AsInt16(), AdvSimd.Arm64.AddPairwise(low, high)).AsInt32();
            if (Sse2.IsSupported)
            {
                var ones = Vector128<short>.One;
                return Sse2.Add(sums.AsInt16(), Sse2.PackSignedSaturate(Sse2.MultiplyAddAdjacent(low, ones), Sse2.MultiplyAddAdjacent(high, ones))).AsInt32();
            }
            throw new PlatformNotSupportedException();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> AddWidened(Vector128<int> acc, Vector128<int> sums)
        {
            if (Sse2.IsSupported) return Sse2.Add(acc, Sse2.MultiplyAddAdjacent(sums.AsInt16(), Vector128<short>.One));
            if (AdvSimd.Arm64.IsSupported) return AdvSimd.Add(acc, AdvSimd.AddPairwiseWidening(sums.AsInt16()));
            throw new PlatformNotSupportedException();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> MultiplyAddWidened(Vector128<int> acc, short* x, int* w) =>
            acc + Vector128.WidenLower(Vector128.Load(x)) * Vector128.Load(w);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> MultiplyAddSignedBytes(Vector128<int> acc, sbyte* x, int* w) =>
            acc + Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalar(*(int*)x).AsSByte())) * Vector128.Load(w);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(sbyte* destination, Vector128<int> acc, int channel, in Requantizer r)
        {
            for (int i = 0; i < 4; i++) destination[i] = r.Scalar(acc.GetElement(i), channel + i);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Finish(Vector128<int>* values, int count, int channel, in Requantizer r)
        {
            for (int i = 0; i < count; i++)
            {
                var v = values[i];
                values[i] = Vector128.Create(r.Scalar(v.GetElement(0), channel), r.Scalar(v.GetElement(1), channel + 1),
                    r.Scalar(v.GetElement(2), channel + 2), r.Scalar(v.GetElement(3), channel + 3));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreFinished(sbyte* destination, Vector128<int> finished)
        {
            for (int i = 0; i < 4; i++) destination[i] = (sbyte)finished.GetElement(i);
        }

        /// <summary>A table lookup per lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> AddResidual(Vector128<int> finished, sbyte* skip, in Requantizer r) =>
            Vector128.Create(AddTable.Lookup(finished.GetElement(0), skip[0], r.ResidualTable), AddTable.Lookup(finished.GetElement(1), skip[1], r.ResidualTable),
                AddTable.Lookup(finished.GetElement(2), skip[2], r.ResidualTable), AddTable.Lookup(finished.GetElement(3), skip[3], r.ResidualTable));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreWithResidual(sbyte* destination, Vector128<int> acc, int channel, sbyte* skip, in Requantizer r)
        {
            // Lane i reads skip[i] before it writes destination[i]: the two may be one buffer.
            for (int i = 0; i < 4; i++) destination[i] = (sbyte)AddTable.Lookup(r.Scalar(acc.GetElement(i), channel + i), skip[i], r.ResidualTable);
        }
    }

    /// <summary>How many vectors of output channels (or output pixels) a register tile holds (a type, so each count gets its own loop).</summary>
    internal interface ITileSize
    {
        static abstract int Count { get; }
    }

    internal readonly struct OneVector : ITileSize
    {
        public static int Count => 1;
    }

    internal readonly struct TwoVectors : ITileSize
    {
        public static int Count => 2;
    }

    internal readonly struct OnePixel : ITileSize
    {
        public static int Count => 1;
    }

    internal readonly struct SixPixels : ITileSize
    {
        public static int Count => 6;
    }
}
