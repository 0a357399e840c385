/*
 * segment: the segrun C API in a small program. Reads an 8-bit PNG (with libpng), runs the model, writes the
 * mask as a PNG, and optionally checks it against another mask PNG (for example the one `segrun predict`
 * wrote for the same image).
 *
 *   segment MODEL IMAGE.png MASK_OUT.png [--threads N] [--check EXPECTED.png [--tolerance FRACTION]]
 *
 * Built and run by scripts/build-capi (CI): gcc examples/segment.c -Iinclude libsegrun.a -lpng -lpthread -lm
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "segrun.h"

static int read_png(const char *path, int channels, uint8_t **pixels, int *width, int *height) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        fprintf(stderr, "segment: %s: %s\n", path, image.message);
        return 0;
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    *pixels = malloc(PNG_IMAGE_SIZE(image));
    if (!*pixels || !png_image_finish_read(&image, NULL, *pixels, 0, NULL)) {
        fprintf(stderr, "segment: %s: %s\n", path, image.message);
        png_image_free(&image);
        return 0;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: segment MODEL IMAGE.png MASK_OUT.png [--threads N] [--check EXPECTED.png [--tolerance F]]\n");
        return 2;
    }
    const char *check = NULL;
    int threads = 0;
    double tolerance = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check") && i + 1 < argc) check = argv[++i];
        else if (!strcmp(argv[i], "--tolerance") && i + 1 < argc) tolerance = atof(argv[++i]);
        else { fprintf(stderr, "segment: unknown argument %s\n", argv[i]); return 2; }
    }
    char message[512];
    segrun_model *model = NULL;
    if (segrun_open(argv[1], &model, message, sizeof message) != SEGRUN_OK) {
        fprintf(stderr, "segment: %s\n", message);
        return 1;
    }
    char arch[64];
    segrun_metadata(model, "model.architecture", arch, sizeof arch);
    printf("segrun %s: %s, %s, %d input channel(s), %d class(es)\n", segrun_version(), arch, segrun_precision(model),
           segrun_input_channels(model), segrun_classes(model));
    if (threads > 0 && segrun_set_threads(model, threads) != SEGRUN_OK) { fprintf(stderr, "segment: bad thread count\n"); return 2; }

    int channels = segrun_input_channels(model), width = 0, height = 0;
    uint8_t *pixels = NULL;
    if (!read_png(argv[2], channels, &pixels, &width, &height)) { segrun_close(model); return 1; }
    uint8_t *mask = malloc((size_t)width * height);
    if (segrun_run_u8(model, pixels, height, width, channels, mask, message, sizeof message) != SEGRUN_OK) {
        fprintf(stderr, "segment: %s\n", message);
        return 1;
    }
    png_image out;
    memset(&out, 0, sizeof out);
    out.version = PNG_IMAGE_VERSION;
    out.width = (png_uint_32)width;
    out.height = (png_uint_32)height;
    out.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&out, argv[3], 0, mask, 0, NULL)) { fprintf(stderr, "segment: %s: %s\n", argv[3], out.message); return 1; }
    long foreground = 0;
    for (long i = 0; i < (long)width * height; i++) foreground += mask[i] != 0;
    printf("wrote %s: %dx%d, %.1f%% foreground\n", argv[3], width, height, 100.0 * foreground / ((double)width * height));

    int status = 0;
    if (check) {
        uint8_t *expected = NULL;
        int ew = 0, eh = 0;
        if (!read_png(check, 1, &expected, &ew, &eh)) return 1;
        if (ew != width || eh != height) { fprintf(stderr, "segment: %s has another size\n", check); return 1; }
        long differ = 0;
        for (long i = 0; i < (long)width * height; i++) differ += mask[i] != expected[i];
        double fraction = (double)differ / ((double)width * height);
        printf("check against %s: %ld pixel(s) differ (%.4f%%, tolerance %.4f%%)\n", check, differ, 100 * fraction, 100 * tolerance);
        status = fraction <= tolerance ? 0 : 1;
        free(expected);
    }
    free(pixels);
    free(mask);
    segrun_close(model);
    return status;
}
