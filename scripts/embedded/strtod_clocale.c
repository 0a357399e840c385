// Float(String) and Double(String) in Embedded Swift call these two runtime stubs, which the Embedded standard
// library does not carry (the full runtime has them). segrun-edge and the C API parse numbers from NRRD headers
// and model metadata through them. The contract of the runtime's own: parse in the C locale whatever locale the
// host program set, return the end of what was parsed, or NULL when the value is out of range.
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>

static locale_t c_locale(void) {
    static locale_t c;
    if (!c) c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return c;
}

const char *_swift_stdlib_strtod_clocale(const char *nptr, double *out) {
    char *end;
    errno = 0;
    *out = strtod_l(nptr, &end, c_locale());
    if (errno == ERANGE && (*out == 0 || isinf(*out))) return NULL;
    return end;
}

const char *_swift_stdlib_strtof_clocale(const char *nptr, float *out) {
    char *end;
    errno = 0;
    *out = strtof_l(nptr, &end, c_locale());
    if (errno == ERANGE && (*out == 0 || isinf(*out))) return NULL;
    return end;
}
