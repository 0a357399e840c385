// The one piece of C the image IO needs: a setjmp landing pad for libjpeg's error handler.
#include "jpeg_shim.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct shim_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int warned;
    char message[JMSG_LENGTH_MAX];
};

static void shim_error_exit(j_common_ptr cinfo) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void shim_emit_message(j_common_ptr cinfo, int level) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    if (level < 0 && !e->warned) {  // level -1: a warning (corrupt data); keep the first one
        e->warned = 1;
        (*cinfo->err->format_message)(cinfo, e->message);
    }
}

int segrun_jpeg_decode(const unsigned char *data, size_t size, size_t max_values, unsigned char **pixels,
                       int *width, int *height, int *channels, int *cmyk_inverted, char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    struct shim_error err;
    unsigned char *volatile out = NULL;
    memset(&err, 0, sizeof err);
    *pixels = NULL;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = shim_error_exit;
    err.base.emit_message = shim_emit_message;
    if (setjmp(err.jump)) {
        snprintf(message, message_size, "%s", err.message);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    // Before jpeg_start_decompress, which allocates a progressive file's whole-image coefficient buffers.
    if ((size_t)cinfo.image_width * (size_t)cinfo.image_height * (size_t)cinfo.num_components > max_values) {
        snprintf(message, message_size, "the header claims %ux%ux%d values, more than the limit of %zu",
                 cinfo.image_width, cinfo.image_height, cinfo.num_components, max_values);
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    int grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    // libjpeg will not convert CMYK to RGB: it hands over the four inks and the caller converts.
    cinfo.out_color_space = grey ? JCS_GRAYSCALE : (cmyk ? JCS_CMYK : JCS_RGB);
    *cmyk_inverted = cmyk ? (cinfo.saw_Adobe_marker ? 1 : 0) : -1;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    out = malloc(stride * cinfo.output_height);
    if (!out) {
        snprintf(message, message_size, "out of memory for a %ux%u image", cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    if (err.warned) {
        snprintf(message, message_size, "%s", err.message);
        free(out);
        return 2;
    }
    *pixels = out;
    return 0;
}
