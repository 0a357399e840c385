#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

// errno is a macro, which Swift does not import.
static inline int segrun_errno(void) { return errno; }
// open() is variadic and MAP_FAILED a cast macro: neither imports into Swift.
static inline int segrun_open(const char *path, int flags, unsigned mode) { return open(path, flags, mode); }
static inline int segrun_is_directory(unsigned mode) { return S_ISDIR(mode); }
static inline void *segrun_map_failed(void) { return MAP_FAILED; }
// pthread_t is an integer in glibc and a pointer in musl, which Swift imports as different types:
// a struct around it, zero-initialized from Swift, works with both.
typedef struct { pthread_t handle; } segrun_thread;
static inline int segrun_thread_start(segrun_thread *thread, void *(*body)(void *), void *argument) {
    return pthread_create(&thread->handle, NULL, body, argument);
}
static inline int segrun_thread_join(segrun_thread *thread) { return pthread_join(thread->handle, NULL); }
