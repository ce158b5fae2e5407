package io.falconmamba.core;

import io.falconmamba.core.kernels.BlockMatrix;
import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.PackedMatrix;
import io.falconmamba.core.kernels.Q4KMatrix;
import io.falconmamba.core.kernels.Q6KMatrix;
import io.falconmamba.core.kernels.QuantizedMatrix;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Prepares the projection matrices at load: quantized ({@link Quantization}), copied into memory
 * ({@link WeightStorage#IN_MEMORY}: F16/BF16 repacked into row tiles, {@link PackedMatrix}; Q8_0/Q4_0 blocks of a
 * GGUF file into {@link QuantizedMatrix} tiles, Q4_K and Q6_K blocks into {@link Q4KMatrix} and {@link Q6KMatrix}
 * tiles; the other block formats and F32 as stored) or
 * left in place in the mapped checkpoint. Quantized and copied matrices live
 * in one shared off-heap arena, which the model frees when it closes. Matrices
 * whose rows do not split into 32-weight blocks (a small dt_proj) are not quantized; they are still copied when
 * the storage asks for it.
 */
final class ProjectionLoader implements AutoCloseable {

    private final Quantization type;
    private final WeightStorage storage;
    private final ThreadPool pool;
    private final WeightArena arena;
    private final WeightSource source;

    ProjectionLoader(Quantization type, WeightStorage storage, ThreadPool pool, WeightSource source) {
        if (storage == WeightStorage.AUTO) {
            throw new IllegalArgumentException("storage AUTO must be resolved against the weights' size first");
        }
        this.type = type;
        this.storage = storage;
        this.pool = pool;
        this.source = source;
        this.arena = type == Quantization.NONE && storage == WeightStorage.MAPPED ? null : new WeightArena();
    }

    /** The pages behind the matrices copied or quantized at load; empty when they stay in the mapped files. */
    Optional<HugePages.Backing> pages() {
        return arena == null ? Optional.empty() : arena.backing();
    }

    Quantization type() {
        return type;
    }

    WeightStorage storage() {
        return storage;
    }

    /**
     * A matrix of element type prepared as asked. A block-format matrix (a GGUF's) keeps its blocks: in place when
     * mapped; in memory, Q8_0 and Q4_0 rearranged into the tiles of {@link QuantizedMatrix}, Q4_K and Q6_K into
     * those of {@link Q4KMatrix} and {@link Q6KMatrix}, and the other formats copied as stored (the same bytes in anonymous huge pages, away from whatever pages the file's cache holds).
     */
    Weight apply(Weight w) {
        if (w instanceof BlockMatrix b) {
            if (storage != WeightStorage.IN_MEMORY) {
                return b;
            }
            Weight copied = switch (b.format()) {
                case Q8_0, Q4_0 -> QuantizedMatrix.fromBlocks(b, arena, pool);
                case Q4_K -> Q4KMatrix.fromBlocks(b, arena, pool);
                case Q6_K -> Q6KMatrix.fromBlocks(b, arena, pool);
                default -> BlockMatrix.of(b.name(), b.rows(), b.cols(), b.format(), copy(b.data()));
            };
            return released(copied, b.data());
        }
        if (!(w instanceof Matrix m)) {
            return w;
        }
        if (type != Quantization.NONE && QuantizedMatrix.quantizable(m.cols())) {
            return released(QuantizedMatrix.quantize(m, type.format(), arena, pool), m.data());
        }
        if (storage == WeightStorage.IN_MEMORY) {
            Weight copied = PackedMatrix.packable(m)
                    ? PackedMatrix.pack(m, arena, pool)
                    : new Matrix(m.name(), m.rows(), m.cols(), m.format(), copy(m.data()));
            return released(copied, m.data());
        }
        return m;
    }

    /**
     * Tells the source that the copy replaces {@code data} ({@link WeightSource#released}): a mapped checkpoint
     * drops those pages from this process's mapping, so the file pages read to make the copy are not counted twice
     * in its resident memory; a later read (the embedding rows, a tied output head) maps them again.
     */
    private Weight released(Weight copy, MemorySegment data) {
        source.released(data);
        return copy;
    }

    /** Copies in 1 MiB pieces spread over the pool: faulting in the source and the copy is most of the cost. */
    private MemorySegment copy(MemorySegment src) {
        long bytes = src.byteSize();
        MemorySegment dst = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        long piece = 1L << 20;
        int pieces = (int) ((bytes + piece - 1) / piece);
        pool.parallelFor(pieces, (from, to) -> {
            long start = from * piece;
            MemorySegment.copy(src, start, dst, start, Math.min(to * piece, bytes) - start);
        });
        return dst;
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
    }
}
