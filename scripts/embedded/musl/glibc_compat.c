// The few glibc-only symbols that Debian's static libpng and zlib (built against glibc with
// _FORTIFY_SOURCE) and Embedded Swift's hashing seed need, for the musl link of segrun-edge on x86-64.
// Each keeps glibc's contract: the _chk variants abort on the overflow glibc would catch.
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int __fprintf_chk(FILE *f, int flag, const char *format, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, format);
    int r = vfprintf(f, format, ap);
    va_end(ap);
    return r;
}

int __vsnprintf_chk(char *s, size_t n, int flag, size_t size, const char *format, va_list ap) {
    (void)flag;
    if (n > size) abort();
    return vsnprintf(s, n, format, ap);
}

int __snprintf_chk(char *s, size_t n, int flag, size_t size, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int r = __vsnprintf_chk(s, n, flag, size, format, ap);
    va_end(ap);
    return r;
}

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t size) {
    if (n > size) abort();
    return memcpy(dst, src, n);
}

_Noreturn void __longjmp_chk(jmp_buf env, int value) { longjmp(env, value); }

void arc4random_buf(void *buffer, size_t n) {
    unsigned char *p = buffer;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) abort();
        p += r;
        n -= (size_t)r;
    }
}
