/*
 * first-touch: how fast this machine hands out fresh anonymous memory, the floor under every copied or quantized
 * load (the engine's copies go into fresh anonymous mappings, see docs/performance.md, "Loading").
 *
 *   cc -O2 -pthread -o /tmp/first-touch benchmarks/probes/first-touch.c
 *   /tmp/first-touch MIB HUGE THREADS      e.g. /tmp/first-touch 2700 1 2
 *
 * Maps MIB MiB, advises it into 2 MiB pages when HUGE is 1 (MADV_NOHUGEPAGE when 0), writes one byte per 4 KiB
 * page from THREADS threads (each its own contiguous share), and prints the time and GB/s of that first touch.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static char *base;
static size_t bytes;
static int threads;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *touch(void *arg) {
    long k = (long) arg;
    size_t from = bytes / threads * k, to = k == threads - 1 ? bytes : bytes / threads * (k + 1);
    for (size_t i = from; i < to; i += 4096) base[i] = 1;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MIB HUGE(0|1) THREADS\n", argv[0]);
        return 2;
    }
    size_t huge = 2u << 20;
    bytes = (size_t) atol(argv[1]) << 20;
    int advise = atoi(argv[2]);
    threads = atoi(argv[3]);
    if (bytes == 0 || threads < 1 || threads > 64) {
        fprintf(stderr, "MIB must be positive and THREADS 1..64\n");
        return 2;
    }
    char *p = mmap(NULL, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    base = (char *) (((size_t) p + huge - 1) & ~(huge - 1));
    madvise(base, bytes, advise ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    pthread_t t[64];
    double start = now();
    for (long k = 0; k < threads; k++) pthread_create(&t[k], NULL, touch, (void *) k);
    for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
    double s = now() - start;
    printf("%zu MiB, %s pages, %d thread(s): first touch %.3f s, %.2f GB/s\n", bytes >> 20,
           advise ? "2 MiB" : "4 KiB", threads, s, bytes / s / 1e9);
    return 0;
}
