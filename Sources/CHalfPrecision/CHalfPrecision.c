#include "CHalfPrecision.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define F16C_TARGET __attribute__((target("avx,f16c")))

int ferd_half_f16c_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
}

/* Eight halves of eight floats, round to nearest even. The hardware quiets a NaN and keeps the top nine bits of
   its payload; clearing those gives the portable code's canonical quiet NaN (sign | 0x7E00), so the wire bytes
   do not depend on which path encoded them. */
static inline F16C_TARGET __m128i encode8(__m256 x) {
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan), _mm256_extractf128_si256(nan, 1));
    return _mm_andnot_si128(_mm_and_si128(nan16, _mm_set1_epi16(0x01FF)), h);
}

static inline F16C_TARGET __m256 decode8(const void *halves) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)halves));
}

/* Each function applies one eight-value step: to every full block in place, and to the tail (< 8) through padded
   local copies, so every element gets exactly the same arithmetic. */

static inline F16C_TARGET void encode_step(const float *in, unsigned char *out) {
    _mm_storeu_si128((__m128i *)out, encode8(_mm256_loadu_ps(in)));
}

static inline F16C_TARGET void decode_step(const unsigned char *in, float *out) {
    _mm256_storeu_ps(out, decode8(in));
}

static inline F16C_TARGET void decode_add_step(const unsigned char *in, float *sums) {
    _mm256_storeu_ps(sums, _mm256_add_ps(_mm256_loadu_ps(sums), decode8(in)));
}

static inline F16C_TARGET void decode_add_encode_step(const unsigned char *in, float *sums, unsigned char *out) {
    __m256 sum = _mm256_add_ps(_mm256_loadu_ps(sums), decode8(in));
    _mm256_storeu_ps(sums, sum);
    _mm_storeu_si128((__m128i *)out, encode8(sum));
}

static inline F16C_TARGET void decode_add_final_step(const unsigned char *in, float *sums, __m256 divisor,
                                                     unsigned char *out) {
    __m128i h = encode8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(sums), decode8(in)), divisor));
    _mm256_storeu_ps(sums, _mm256_cvtph_ps(h));
    _mm_storeu_si128((__m128i *)out, h);
}

F16C_TARGET void ferd_half_encode(const float *source, size_t count, void *halves) {
    unsigned char *out = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) encode_step(source + i, out + 2 * i);
    if (i < count) {
        size_t rest = count - i;
        float f[8] = {0};
        unsigned short h[8];
        memcpy(f, source + i, rest * 4);
        encode_step(f, (unsigned char *)h);
        memcpy(out + 2 * i, h, rest * 2);
    }
}

F16C_TARGET void ferd_half_decode(const void *halves, size_t count, float *destination) {
    const unsigned char *in = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) decode_step(in + 2 * i, destination + i);
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float f[8];
        memcpy(h, in + 2 * i, rest * 2);
        decode_step((const unsigned char *)h, f);
        memcpy(destination + i, f, rest * 4);
    }
}

F16C_TARGET void ferd_half_decode_add(const void *halves, size_t count, float *destination) {
    const unsigned char *in = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) decode_add_step(in + 2 * i, destination + i);
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float f[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(f, destination + i, rest * 4);
        decode_add_step((const unsigned char *)h, f);
        memcpy(destination + i, f, rest * 4);
    }
}

F16C_TARGET void ferd_half_decode_add_encode(const void *halves, size_t count, float *destination, void *encoded) {
    const unsigned char *in = halves;
    unsigned char *out = encoded;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) decode_add_encode_step(in + 2 * i, destination + i, out + 2 * i);
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float f[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(f, destination + i, rest * 4);
        decode_add_encode_step((const unsigned char *)h, f, (unsigned char *)h);
        memcpy(destination + i, f, rest * 4);
        memcpy(out + 2 * i, h, rest * 2);
    }
}

F16C_TARGET void ferd_half_decode_add_final(const void *halves, size_t count, float *destination, float divisor,
                                            void *encoded) {
    const unsigned char *in = halves;
    unsigned char *out = encoded;
    const __m256 by = _mm256_set1_ps(divisor);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) decode_add_final_step(in + 2 * i, destination + i, by, out + 2 * i);
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float f[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(f, destination + i, rest * 4);
        decode_add_final_step((const unsigned char *)h, f, by, (unsigned char *)h);
        memcpy(destination + i, f, rest * 4);
        memcpy(out + 2 * i, h, rest * 2);
    }
}

#else

/* Not x86: no F16C. The conversions are never called (the Swift code checks ferd_half_f16c_supported). */
int ferd_half_f16c_supported(void) { return 0; }
void ferd_half_encode(const float *source, size_t count, void *halves) { (void)source; (void)count; (void)halves; }
void ferd_half_decode(const void *halves, size_t count, float *destination) {
    (void)halves; (void)count; (void)destination;
}
void ferd_half_decode_add(const void *halves, size_t count, float *destination) {
    (void)halves; (void)count; (void)destination;
}
void ferd_half_decode_add_encode(const void *halves, size_t count, float *destination, void *encoded) {
    (void)halves; (void)count; (void)destination; (void)encoded;
}
void ferd_half_decode_add_final(const void *halves, size_t count, float *destination, float divisor,
                                void *encoded) {
    (void)halves; (void)count; (void)destination; (void)divisor; (void)encoded;
}

#endif
