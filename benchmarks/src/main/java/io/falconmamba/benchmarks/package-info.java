/** Benchmarks, checkpoint synthesis and the long-run runner. */
package io.falconmamba.benchmarks;
