#ifndef SEGRUN_JPEG_SHIM_H
#define SEGRUN_JPEG_SHIM_H
#include <stddef.h>

/// Decodes a JPEG held in memory to 8-bit grey (1 channel), RGB (3 channels) or, for a CMYK or YCCK file,
/// its four inks (4 channels; *cmyk_inverted is 1 when an Adobe marker says they are stored inverted, as
/// Photoshop writes them, 0 when not, -1 for grey and RGB files).
/// libjpeg reports fatal errors by longjmp, which Swift cannot host; this shim owns the setjmp and
/// turns errors, and warnings such as "Premature end of JPEG file", into a return code and a message.
/// Returns 0 on success (*pixels malloc'ed, caller frees), 1 on a fatal error, 2 when libjpeg warned
/// (corrupt or truncated data it papered over), 3 when the header claims more than `max_values` samples
/// (checked before anything of the image's size is allocated); the failures fill `message`.
int segrun_jpeg_decode(const unsigned char *data, size_t size, size_t max_values, unsigned char **pixels,
                       int *width, int *height, int *channels, int *cmyk_inverted, char *message, size_t message_size);

#endif
