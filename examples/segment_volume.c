/*
 * segment_volume: the segrun C API on volumes. Segments a NIfTI (.nii, .nii.gz) or NRRD volume with a 3D model and
 * writes its label volume in the input's geometry, as `segrun predict` does; with --raw, also runs the same model on
 * a small synthetic array already on its grid (segrun_run_volume) and prints how many voxels each class got.
 *
 *   segment_volume MODEL IN.nii.gz OUT.nii.gz [--threads N] [--raw]
 *
 * Built and run by scripts/build-capi (CI): gcc examples/segment_volume.c -Iinclude libsegrun.a -lpng -lz -lpthread -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "segrun.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: segment_volume MODEL IN.nii.gz OUT.nii.gz [--threads N] [--raw]\n");
        return 2;
    }
    int threads = 0, raw = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--raw") == 0) raw = 1;
        else { fprintf(stderr, "segment_volume: unknown option %s\n", argv[i]); return 2; }
    }
    char message[512];
    segrun_model *model = NULL;
    if (segrun_open(argv[1], &model, message, sizeof message) != SEGRUN_OK) {
        fprintf(stderr, "segment_volume: %s\n", message);
        return 1;
    }
    if (!segrun_is_volumetric(model)) {
        fprintf(stderr, "segment_volume: %s segments images, not volumes\n", argv[1]);
        segrun_close(model);
        return 1;
    }
    if (threads > 0) segrun_set_threads(model, threads);
    int status = segrun_segment_volume_file(model, argv[2], argv[3], message, sizeof message);
    if (status != SEGRUN_OK) {
        fprintf(stderr, "segment_volume: %s\n", message);
        segrun_close(model);
        return 1;
    }
    printf("segment_volume: %s -> %s (%s model)\n", argv[2], argv[3], segrun_precision(model));
    if (raw) {
        enum { D = 10, H = 12, W = 20 };
        int c = segrun_input_channels(model), classes = segrun_classes(model);
        float *voxels = malloc(sizeof(float) * c * D * H * W);
        uint8_t *labels = malloc(D * H * W);
        for (int i = 0; i < c * D * H * W; i++) voxels[i] = (float)((i * 37) % 400 - 200);
        if (segrun_run_volume(model, voxels, D, H, W, labels, message, sizeof message) != SEGRUN_OK) {
            fprintf(stderr, "segment_volume: %s\n", message);
            return 1;
        }
        int counts[256] = {0};
        for (int i = 0; i < D * H * W; i++) counts[labels[i]]++;
        printf("segment_volume: raw %dx%dx%d:", D, H, W);
        for (int k = 0; k < (classes > 1 ? classes : 2); k++) printf(" class %d: %d", k, counts[k]);
        printf("\n");
        free(voxels);
        free(labels);
    }
    segrun_close(model);
    return 0;
}
