/**
 * An OpenAI-compatible HTTP server for one loaded model ({@link io.falconmamba.server.FalconMambaServer}).
 *
 * <p><b>Parts.</b> {@code FalconMambaServer} routes HTTP and writes OpenAI's JSON and server-sent events;
 * {@code OpenAiRequest} turns a request body into prompt ids and a generation config (and decides what is a 400);
 * {@code Scheduler} owns every model call on one thread and runs continuous batching over the core's
 * {@link io.falconmamba.core.generation.SessionBatch}, starting each request from the longest cached state
 * ({@link io.falconmamba.core.generation.SessionCache}); {@code Job} carries one request between the two;
 * {@code Metrics} renders Prometheus text.
 *
 * <p><b>Why the JDK's HTTP server.</b> {@code com.sun.net.httpserver} (module {@code jdk.httpserver}, in every JDK)
 * with a virtual thread per exchange is enough here: one scheduler thread bounds the throughput, so the HTTP layer
 * only parses, waits and writes, and a blocking write per streamed piece costs a parked virtual thread, not a
 * platform thread. It adds no dependency to an application that embeds the server (Helidon SE, Javalin or Vert.x
 * would bring their own runtime and configuration for features the API does not use: routing is five paths).
 * What it lacks: HTTP/2 and TLS termination (put a reverse proxy in front when the server leaves loopback), and a
 * way to see a client leave before a write, so a plain (non-streamed) request whose client left runs until it ends
 * or times out; a streamed one is cancelled at the first write that fails.
 */
package io.falconmamba.server;
