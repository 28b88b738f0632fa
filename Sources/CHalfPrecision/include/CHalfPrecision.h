#ifndef CHALFPRECISION_H
#define CHALFPRECISION_H

#include <stddef.h>

/* float32 <-> IEEE binary16 conversions in bulk with the x86 F16C instructions (round to nearest even; exact
   for all finite values including subnormals, and for infinities). NaNs are encoded as the quiet NaN of their
   sign (0x7E00 / 0xFE00), the same bits as FerdCollective's portable Swift code. Halves are read and written
   unaligned. Call the conversions only when ferd_half_f16c_supported() returns nonzero. */

/* Nonzero when the CPU has F16C and AVX (always zero on non-x86 builds). */
int ferd_half_f16c_supported(void);

/* halves[i] = half(source[i]) */
void ferd_half_encode(const float *source, size_t count, void *halves);
/* destination[i] = float(halves[i]) */
void ferd_half_decode(const void *halves, size_t count, float *destination);
/* destination[i] += float(halves[i]) */
void ferd_half_decode_add(const void *halves, size_t count, float *destination);
/* destination[i] += float(halves[i]); encoded[i] = half(destination[i]) */
void ferd_half_decode_add_encode(const void *halves, size_t count, float *destination, void *encoded);
/* h = half((destination[i] + float(halves[i])) / divisor); destination[i] = float(h); encoded[i] = h */
void ferd_half_decode_add_final(const void *halves, size_t count, float *destination, float divisor,
                                void *encoded);

#endif
