// An LD_PRELOAD library that follows every allocation of 1 MiB or more (malloc, realloc, posix_memalign,
// aligned_alloc, free), keeps the largest total live at once, and at exit writes that peak and the stack of each
// block live at that moment to /tmp/peak-live.PID.txt (raw addresses; `peak-live` symbolizes them).
// A measuring tool for `Benchmarks/memory/peak-live`, never linked into the product.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { large = 1 << 20, slots = 1 << 16, frames = 10, peakBlocks = 4096 };
typedef struct { void *pointer; size_t size; void *stack[frames]; int depth; } Block;
static Block live[slots], atPeak[peakBlocks];
static int atPeakCount;
static size_t total, peak;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;
static void *(*realMalloc)(size_t);
static void (*realFree)(void *);
static void *(*realRealloc)(void *, size_t);
static int (*realPosixMemalign)(void **, size_t, size_t);
static void *(*realAlignedAlloc)(size_t, size_t);

static void bind(void) {
    if (realMalloc) return;
    realMalloc = dlsym(RTLD_NEXT, "malloc");
    realFree = dlsym(RTLD_NEXT, "free");
    realRealloc = dlsym(RTLD_NEXT, "realloc");
    realPosixMemalign = dlsym(RTLD_NEXT, "posix_memalign");
    realAlignedAlloc = dlsym(RTLD_NEXT, "aligned_alloc");
}

static size_t slotOf(void *p) { return ((uintptr_t)p >> 12) % slots; }

static void track(void *p, size_t size) {
    if (!p || size < large || inside) return;
    inside = 1;
    void *stack[frames + 2];
    int depth = backtrace(stack, frames + 2);
    pthread_mutex_lock(&lock);
    size_t h = slotOf(p);
    while (live[h].pointer) h = (h + 1) % slots;
    live[h].pointer = p;
    live[h].size = size;
    live[h].depth = depth > 2 ? depth - 2 : 0;
    memcpy(live[h].stack, stack + 2, sizeof(void *) * live[h].depth);
    total += size;
    if (total > peak) {
        peak = total;
        atPeakCount = 0;
        for (int i = 0; i < slots && atPeakCount < peakBlocks; i++) if (live[i].pointer) atPeak[atPeakCount++] = live[i];
    }
    pthread_mutex_unlock(&lock);
    inside = 0;
}

static void untrack(void *p) {
    if (!p || inside) return;
    pthread_mutex_lock(&lock);
    size_t h = slotOf(p);
    for (int probe = 0; probe < slots && live[h].pointer; probe++, h = (h + 1) % slots) {
        if (live[h].pointer != p) continue;
        total -= live[h].size;
        live[h].pointer = 0;
        for (size_t j = (h + 1) % slots; live[j].pointer; j = (j + 1) % slots) {  // re-place the probe chain
            Block b = live[j];
            live[j].pointer = 0;
            size_t k = slotOf(b.pointer);
            while (live[k].pointer) k = (k + 1) % slots;
            live[k] = b;
        }
        break;
    }
    pthread_mutex_unlock(&lock);
}

void *malloc(size_t n) { bind(); void *p = realMalloc(n); track(p, n); return p; }
void free(void *p) { bind(); untrack(p); realFree(p); }
void *realloc(void *q, size_t n) { bind(); untrack(q); void *p = realRealloc(q, n); track(p, n); return p; }
int posix_memalign(void **out, size_t a, size_t n) { bind(); int r = realPosixMemalign(out, a, n); if (!r) track(*out, n); return r; }
void *aligned_alloc(size_t a, size_t n) { bind(); void *p = realAlignedAlloc(a, n); track(p, n); return p; }

__attribute__((destructor)) static void report(void) {
    inside = 1;
    if (peak == 0) return;
    char name[64];
    snprintf(name, sizeof name, "/tmp/peak-live.%d.txt", (int)getpid());
    FILE *f = fopen(name, "w");
    if (!f) return;
    fprintf(f, "peak %zu\n", peak);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) if (strstr(line, "r-xp") && !strstr(line, ".so")) { fputs(line, f); break; }
    if (maps) fclose(maps);
    for (int i = 0; i < atPeakCount; i++) {
        fprintf(f, "%zu", atPeak[i].size);
        for (int k = 0; k < atPeak[i].depth; k++) fprintf(f, " %p", atPeak[i].stack[k]);
        fprintf(f, "\n");
    }
    fclose(f);
}
