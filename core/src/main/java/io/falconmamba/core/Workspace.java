package io.falconmamba.core;

/** Scratch activations for a block of up to {@code capacity} rows (tokens), reused across calls. */
final class Workspace {

    final int capacity;
    /** Residual stream h, rows of d. */
    final float[] h;
    /** Normed input u, rows of d. */
    final float[] u;
    /** in_proj output [x | z], rows of 2·d_in. */
    final float[] xz;
    /** Conv output after SiLU (the x the SSM sees), rows of d_in. */
    final float[] x;
    /** x_proj output [dt | B | C], rows of R + 2N. */
    final float[] dtBC;
    /** Δ, rows of d_in. */
    final float[] delta;
    /** Scan output y, rows of d_in. */
    final float[] y;
    /** out_proj output, rows of d. */
    final float[] out;
    /** One row of vocab logits per row (only for the rows whose logits are asked for). */
    float[] logits = new float[0];
    /** The scan's parallel job, reused so a forward pass allocates nothing. */
    final ScanJob scan = new ScanJob(this);
    /** The SSM state of the current layer for each row, when each row is one sequence's token (decode, batch). */
    final float[][] layerStates;
    /** The one-state array for single-sequence calls. */
    final SequenceState[] single = new SequenceState[1];
    /** The one-token array for decode steps. */
    final int[] token = new int[1];

    Workspace(MambaConfig c, int capacity) {
        this.capacity = capacity;
        int d = c.hiddenSize();
        int dIn = c.intermediateSize();
        h = new float[capacity * d];
        u = new float[capacity * d];
        xz = new float[capacity * 2 * dIn];
        x = new float[capacity * dIn];
        dtBC = new float[capacity * (c.timeStepRank() + 2 * c.stateSize())];
        delta = new float[capacity * dIn];
        y = new float[capacity * dIn];
        out = new float[capacity * d];
        layerStates = new float[capacity][];
    }

    /** Bytes a workspace of {@code rows} rows holds (logits excluded). */
    static long bytes(MambaConfig c, int rows) {
        long perRow = 3L * c.hiddenSize() + 5L * c.intermediateSize() + c.timeStepRank() + 2L * c.stateSize();
        return perRow * rows * Float.BYTES;
    }

    float[] logits(int rows, int vocab) {
        if (logits.length < rows * vocab) {
            logits = new float[rows * vocab];
        }
        return logits;
    }

    static final class ScanJob implements io.falconmamba.core.kernels.ThreadPool.RangeTask {
        private final Workspace ws;
        private MambaBlock block;
        private SequenceState[] states;
        private int layer;
        private int rows;
        /** Decode or batch decode: row t is one token of states[t] (or of the single state), scanned by step. */
        private boolean oneTokenPerState;

        ScanJob(Workspace ws) {
            this.ws = ws;
        }

        void set(MambaBlock block, SequenceState[] states, int layer, int rows) {
            this.block = block;
            this.states = states;
            this.layer = layer;
            this.rows = rows;
            oneTokenPerState = states.length > 1 || rows == 1;
            if (oneTokenPerState) {
                for (int t = 0; t < rows; t++) {
                    ws.layerStates[t] = states[states.length == 1 ? 0 : t].ssm[layer];
                }
            }
        }

        @Override
        public void run(int from, int to) {
            block.scanChannels(ws, states, layer, rows, oneTokenPerState, from, to);
        }
    }
}
