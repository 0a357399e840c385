/*
 * segrun C API: run a segrun model file (fp32 or int8) from C or C++.
 *
 * Handles are opaque and independent: no global state is visible, and different handles may be used
 * from different threads at once (one handle must not be used by two threads at the same time).
 * Every call that can fail returns a segrun_status and, when `message` is not NULL, writes a one-line
 * NUL-terminated explanation into it (truncated to `message_size` bytes).
 *
 * Build: scripts/build-capi (an Embedded-Swift static library, no Swift runtime to ship). Link with
 *   gcc app.c -Iinclude .build-embedded/capi/libsegrun.a -lpng -lz -lpthread -lm
 */
#ifndef SEGRUN_H
#define SEGRUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct segrun_model segrun_model;

typedef enum {
    SEGRUN_OK = 0,
    SEGRUN_ERROR_FILE = 1,      /* cannot open or read the file */
    SEGRUN_ERROR_MODEL = 2,     /* not a valid segrun model file (magic, version, checksum, offsets, graph) */
    SEGRUN_ERROR_SHAPE = 3,     /* the input does not fit the model (channels, size) */
    SEGRUN_ERROR_ARGUMENT = 4   /* a NULL pointer, a non-positive size or thread count */
} segrun_status;

/* The library's version, e.g. "0.1.0". */
const char *segrun_version(void);

/* Opens a model file. On success *model is a new handle; close it with segrun_close. */
segrun_status segrun_open(const char *path, segrun_model **model, char *message, size_t message_size);

/* Frees the handle (NULL is allowed). */
void segrun_close(segrun_model *model);

/* Input channels, output classes (1 = binary), and the multiple H and W are padded to internally. */
int segrun_input_channels(const segrun_model *model);
int segrun_classes(const segrun_model *model);
int segrun_input_multiple(const segrun_model *model);
/* "fp32" or "int8". */
const char *segrun_precision(const segrun_model *model);

/* Copies the metadata value of `key` (for example "model.architecture", "output.class_names") as text.
 * Returns the text's length (which may exceed value_size - 1: then it was truncated), or -1 if absent. */
int segrun_metadata(const segrun_model *model, const char *key, char *value, size_t value_size);

/* Threads used by segrun_run_* on this handle (default: all online cores). */
segrun_status segrun_set_threads(segrun_model *model, int threads);

/* Class probabilities of one image, at the image's size.
 * input: planar float pixels in [0, 1], input_channels x height x width (the model's normalization is
 * applied inside). probabilities: max(1, classes) x height x width floats, written by the call. */
segrun_status segrun_run_f32(segrun_model *model, const float *input, int height, int width,
                             float *probabilities, char *message, size_t message_size);

/* A mask of one 8-bit image, as `segrun predict` writes it: 0/255 for binary models (foreground at the
 * model's threshold), class ids for multi-class models. pixels: interleaved height x width x channels
 * bytes (channels must equal the model's input channels). mask: height x width bytes, written by the call. */
segrun_status segrun_run_u8(segrun_model *model, const uint8_t *pixels, int height, int width, int channels,
                            uint8_t *mask, char *message, size_t message_size);

/* 1 when the model segments volumes (a 3D network: segrun_run_volume, segrun_segment_volume_file), 0 for images. */
int segrun_is_volumetric(const segrun_model *model);

/* The labels of a 3D model over a volume already on the model's grid and in its orientation: voxels holds
 * input_channels x depth x height x width floats (x fastest), intensities as a volume file holds them (the
 * model's intensity window and normalization are applied inside). labels: depth x height x width class ids
 * (a binary model's foreground is 1), written by the call. Gaussian sliding windows of the model's patch. */
segrun_status segrun_run_volume(segrun_model *model, const float *voxels, int depth, int height, int width,
                                uint8_t *labels, char *message, size_t message_size);

/* Segments a NIfTI (.nii, .nii.gz) or NRRD (.nrrd) volume with a 3D model as `segrun predict` does (turned to the
 * model's orientation, resampled to its spacing and back) and writes the uint8 label volume in the input's
 * geometry to out_path (.nii or .nii.gz for a NIfTI input, .nrrd for a NRRD one), atomically. */
segrun_status segrun_segment_volume_file(segrun_model *model, const char *input_path, const char *out_path,
                                         char *message, size_t message_size);

#ifdef __cplusplus
}
#endif
#endif
