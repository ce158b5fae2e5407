/**
 * The Vector API kernels of the model: the products by weight matrices, and the per-channel steps (RMS norm,
 * causal conv, selective scan, activations).
 *
 * <h2>Weight matrices by format</h2>
 *
 * A weight matrix is a {@link io.falconmamba.core.kernels.Weight}: one class per storage layout, each holding
 * its bytes, addressing its rows and offering the three products the model needs: matrix × vector for decode
 * ({@code matVec}), matrix × a few vectors for batches and short chunks ({@code matVecs}) and matrix × many
 * vectors for prefill ({@code matMul}). {@link io.falconmamba.core.kernels.MatrixProduct#multiply} is the one
 * place that picks which runs, by token count and the class's {@code fewTokens()}. The classes today:
 *
 * <ul>
 *   <li>{@link io.falconmamba.core.kernels.Matrix}: F32, F16 or BF16 rows read in place ({@code MatVec},
 *       {@code BatchMatVec}, and {@code MatMul}'s tiles filled by gathers);
 *   <li>{@link io.falconmamba.core.kernels.PackedMatrix}: F16 or BF16 repacked at load into tiles of rows stored
 *       by column ({@code PackedMatMul});
 *   <li>{@link io.falconmamba.core.kernels.QuantizedMatrix}: Q8_0 or Q4_0 quantized at load, in tiles
 *       ({@code QMatVec}, {@code QMatMul});
 *   <li>{@link io.falconmamba.core.kernels.BlockMatrix}: llama.cpp's block formats read in place, row-major ggml
 *       blocks as a GGUF file stores them, one subclass per family: {@code Q32Matrix} (Q8_0, Q4_0, Q4_1, Q5_0,
 *       Q5_1, IQ4_NL) and {@code KQuantMatrix} (Q2_K to Q6_K, IQ4_XS); {@code BlockMatrix.of} picks the class.
 * </ul>
 *
 * The kernels share {@code ProductJob} (one call's arguments per calling thread, the split over the
 * {@link io.falconmamba.core.kernels.ThreadPool}, the try/finally that forgets the call) and {@code MatMul}
 * (transposed float tiles that every format fills through {@code transposedRows}).
 *
 * <h2>Adding a format</h2>
 *
 * <ol>
 *   <li>Add it to {@link io.falconmamba.core.kernels.Format} with its block size and block bytes. The model's
 *       {@code Tensor} carries a {@code Format}, and its byte size follows from the block size and bytes, so a
 *       weight source (the GGUF loader maps ggml's type of the same name) can hand the tensor over as it is.
 *   <li>Write one class implementing {@code Weight} over a {@link java.lang.foreign.MemorySegment} (for GGUF, a
 *       slice of the mapped file): validate the byte size in the constructor, and implement
 *       {@code rowToFloats(r, out, off)}, which decodes row {@code r} (its {@code cols / blockSize} blocks,
 *       starting at byte {@code r · format.rowBytes(cols)}). For a ggml block format that is a
 *       {@code BlockMatrix} subclass (or a case in a family's {@code decodeBlock}) named in
 *       {@code BlockMatrix.of}. That alone is a correct format: the interface's defaults decode rows and multiply
 *       the floats ({@code DecodedRows} for one and a few tokens, {@code MatMul}'s tiles for many).
 *   <li>Test it against a scalar decode of the reference blocks (llama.cpp's {@code dequantize_row_*}; for the
 *       GGUF formats the loader's {@code Dequantizer}, in the loader's {@code BlockMatrixTest}) and a double
 *       product of those rows, through {@code MatrixProduct.multiply} at 1, a few and many tokens.
 *   <li>Then make it fast where it matters, one product at a time, each checked against the generic path: decode
 *       first ({@code matVec}: bandwidth-bound, stream each row once, widen in registers, keep the loop a
 *       {@code while} over a long byte offset, see {@code MatVec}'s STREAM_LOOPS), then {@code transposedRows}
 *       (prefill), then {@code matVecs} with its {@code fewTokens()}. Hot loops stay flat: the widening is written
 *       out in the loop, because a helper C2 declines to inline boxes every vector.
 * </ol>
 *
 * Nothing here imports the model ({@code io.falconmamba.core}): the model maps its tensor types and load options
 * onto {@code Format} and builds the matrices.
 */
package io.falconmamba.core.kernels;
