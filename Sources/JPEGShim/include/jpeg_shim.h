#ifndef SEGRUN_JPEG_SHIM_H
#define SEGRUN_JPEG_SHIM_H
#include <stddef.h>

/// Decodes a JPEG held in memory to 8-bit grey (1 channel) or RGB (3 channels).
/// libjpeg reports fatal errors by longjmp, which Swift cannot host; this shim owns the setjmp and
/// turns errors, and warnings such as "Premature end of JPEG file", into a return code and a message.
/// Returns 0 on success (*pixels malloc'ed, caller frees), 1 on a fatal error, 2 when libjpeg warned
/// (corrupt or truncated data it papered over); both failures fill `message`.
int segrun_jpeg_decode(const unsigned char *data, size_t size, unsigned char **pixels,
                       int *width, int *height, int *channels, char *message, size_t message_size);

#endif
