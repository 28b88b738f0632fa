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

/* Each loop handles eight values at a time; the tail (< 8) goes through padded local copies with the same
   instructions, so every element gets exactly the same arithmetic. */

F16C_TARGET void ferd_half_encode(const float *source, size_t count, void *halves) {
    unsigned char *out = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm_storeu_si128((__m128i *)(out + 2 * i), encode8(_mm256_loadu_ps(source + i)));
    if (i < count) {
        size_t rest = count - i;
        float in[8] = {0};
        unsigned short h[8];
        memcpy(in, source + i, rest * 4);
        _mm_storeu_si128((__m128i *)h, encode8(_mm256_loadu_ps(in)));
        memcpy(out + 2 * i, h, rest * 2);
    }
}

F16C_TARGET void ferd_half_decode(const void *halves, size_t count, float *destination) {
    const unsigned char *in = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(destination + i, decode8(in + 2 * i));
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float out[8];
        memcpy(h, in + 2 * i, rest * 2);
        _mm256_storeu_ps(out, decode8(h));
        memcpy(destination + i, out, rest * 4);
    }
}

F16C_TARGET void ferd_half_decode_add(const void *halves, size_t count, float *destination) {
    const unsigned char *in = halves;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 sum = _mm256_add_ps(_mm256_loadu_ps(destination + i), decode8(in + 2 * i));
        _mm256_storeu_ps(destination + i, sum);
    }
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float d[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(d, destination + i, rest * 4);
        _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), decode8(h)));
        memcpy(destination + i, d, rest * 4);
    }
}

F16C_TARGET void ferd_half_decode_add_encode(const void *halves, size_t count, float *destination, void *encoded) {
    const unsigned char *in = halves;
    unsigned char *out = encoded;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 sum = _mm256_add_ps(_mm256_loadu_ps(destination + i), decode8(in + 2 * i));
        _mm256_storeu_ps(destination + i, sum);
        _mm_storeu_si128((__m128i *)(out + 2 * i), encode8(sum));
    }
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float d[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(d, destination + i, rest * 4);
        __m256 sum = _mm256_add_ps(_mm256_loadu_ps(d), decode8(h));
        _mm256_storeu_ps(d, sum);
        _mm_storeu_si128((__m128i *)h, encode8(sum));
        memcpy(destination + i, d, rest * 4);
        memcpy(out + 2 * i, h, rest * 2);
    }
}

F16C_TARGET void ferd_half_decode_add_final(const void *halves, size_t count, float *destination, float divisor,
                                            void *encoded) {
    const unsigned char *in = halves;
    unsigned char *out = encoded;
    const __m256 by = _mm256_set1_ps(divisor);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 sum = _mm256_add_ps(_mm256_loadu_ps(destination + i), decode8(in + 2 * i));
        __m128i h = encode8(_mm256_div_ps(sum, by));
        _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(h));
        _mm_storeu_si128((__m128i *)(out + 2 * i), h);
    }
    if (i < count) {
        size_t rest = count - i;
        unsigned short h[8] = {0};
        float d[8] = {0};
        memcpy(h, in + 2 * i, rest * 2);
        memcpy(d, destination + i, rest * 4);
        __m256 sum = _mm256_add_ps(_mm256_loadu_ps(d), decode8(h));
        __m128i r = encode8(_mm256_div_ps(sum, by));
        _mm256_storeu_ps(d, _mm256_cvtph_ps(r));
        _mm_storeu_si128((__m128i *)h, r);
        memcpy(destination + i, d, rest * 4);
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
