package io.falconmamba.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

/**
 * Matrix × vector, the decode path: {@code out[r] = Σ_c W[r, c] · x[c]} with W read in place.
 *
 * <p>Decode is bound by memory bandwidth, so each kernel streams W once and keeps x in cache. The 16-bit
 * kernels read weights as 32-bit pairs and split them with a shift (even element) and a mask (odd element)
 * against x pre-split into its even and odd halves: no widening shuffles in the inner loop.
 */
public final class MatVec {

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    private MatVec() {
    }

    /** One call's arguments, reused per calling thread so a call allocates nothing. */
    private static final class Job implements ThreadPool.RangeTask {
        Matrix w;
        float[] x;
        int xOff;
        float[] out;
        int outOff;
        float[] even = new float[0];
        float[] odd = new float[0];

        @Override
        public void run(int from, int to) {
            rows(w, x, xOff, even, odd, out, outOff, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** {@code out[outOff + r] = W[r] · x[xOff ..]} for every row, split across the pool's threads. */
    public static void multiply(Matrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        Job job = JOBS.get();
        if (w.type() != io.falconmamba.core.WeightType.F32) {
            int pairs = w.cols() / 2;
            if (job.even.length < pairs) {
                job.even = new float[pairs];
                job.odd = new float[pairs];
            }
            split(x, xOff, pairs, job.even, job.odd);
        }
        job.w = w;
        job.x = x;
        job.xOff = xOff;
        job.out = out;
        job.outOff = outOff;
        try {
            pool.parallelFor(w.rows(), job);
        } finally {
            job.w = null;
            job.x = null;
            job.out = null;
        }
    }

    /** Single-threaded over rows {@code [from, to)}; {@code even}/{@code odd} must hold x split (16-bit types only). */
    static void rows(Matrix w, float[] x, int xOff, float[] even, float[] odd, float[] out, int outOff, int from, int to) {
        switch (w.type()) {
            case F32 -> {
                for (int r = from; r < to; r++) {
                    out[outOff + r] = dotF32(w.data(), r * w.rowBytes(), x, xOff, w.cols());
                }
            }
            case BF16 -> {
                for (int r = from; r < to; r++) {
                    out[outOff + r] = dotBF16(w.data(), r * w.rowBytes(), x, xOff, even, odd, w.cols());
                }
            }
            case F16 -> {
                for (int r = from; r < to; r++) {
                    out[outOff + r] = dotF16(w.data(), r * w.rowBytes(), x, xOff, even, odd, w.cols());
                }
            }
        }
    }

    /** x[2p] into even[p], x[2p+1] into odd[p]. */
    static void split(float[] x, int xOff, int pairs, float[] even, float[] odd) {
        for (int p = 0; p < pairs; p++) {
            even[p] = x[xOff + 2 * p];
            odd[p] = x[xOff + 2 * p + 1];
        }
    }

    static float dotF32(MemorySegment w, long base, float[] x, int xOff, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int step = F.length();
        int i = 0;
        for (int bound = n - 2 * step; i <= bound; i += 2 * step) {
            acc0 = FloatVector.fromMemorySegment(F, w, base + (long) i * 4, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, w, base + (long) (i + step) * 4, LE)
                    .fma(FloatVector.fromArray(F, x, xOff + i + step), acc1);
        }
        for (; i <= n - step; i += step) {
            acc0 = FloatVector.fromMemorySegment(F, w, base + (long) i * 4, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += w.get(Convert.F32, base + (long) i * 4) * x[xOff + i];
        }
        return sum;
    }

    static float dotBF16(MemorySegment w, long base, float[] x, int xOff, float[] even, float[] odd, int n) {
        FloatVector accEven = FloatVector.zero(F);
        FloatVector accOdd = FloatVector.zero(F);
        int pairs = n / 2;
        int step = I.length();
        int p = 0;
        for (int bound = I.loopBound(pairs); p < bound; p += step) {
            IntVector two = IntVector.fromMemorySegment(I, w, base + (long) p * 4, LE);
            FloatVector we = two.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo = two.and(0xFFFF0000).reinterpretAsFloats();
            accEven = we.fma(FloatVector.fromArray(F, even, p), accEven);
            accOdd = wo.fma(FloatVector.fromArray(F, odd, p), accOdd);
        }
        float sum = accEven.add(accOdd).reduceLanes(VectorOperators.ADD);
        for (int i = 2 * p; i < n; i++) {
            sum += Convert.bf16ToFloat(w.get(Convert.I16, base + (long) i * 2)) * x[xOff + i];
        }
        return sum;
    }

    static float dotF16(MemorySegment w, long base, float[] x, int xOff, float[] even, float[] odd, int n) {
        FloatVector accEven = FloatVector.zero(F);
        FloatVector accOdd = FloatVector.zero(F);
        int pairs = n / 2;
        int step = I.length();
        int p = 0;
        for (int bound = I.loopBound(pairs); p < bound; p += step) {
            IntVector two = IntVector.fromMemorySegment(I, w, base + (long) p * 4, LE);
            FloatVector we = Convert.f16ToFloat(two.and(0xFFFF));
            FloatVector wo = Convert.f16ToFloat(two.lanewise(VectorOperators.LSHR, 16));
            accEven = we.fma(FloatVector.fromArray(F, even, p), accEven);
            accOdd = wo.fma(FloatVector.fromArray(F, odd, p), accOdd);
        }
        float sum = accEven.add(accOdd).reduceLanes(VectorOperators.ADD);
        for (int i = 2 * p; i < n; i++) {
            sum += Float.float16ToFloat(w.get(Convert.I16, base + (long) i * 2)) * x[xOff + i];
        }
        return sum;
    }
}
