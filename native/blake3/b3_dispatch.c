/*
 * b3_dispatch.c -- choose a BLAKE3 tier from the CPU's features.
 *
 * Features are probed once and cached in one atomic: the only mutable global
 * in the core. Racing first callers compute and store the same value, so no
 * lock is needed.
 */
#include <stdatomic.h>

#include "../coldseal.h"
#include "b3_impl.h"

#if defined(CS_B3_X86) && !(defined(CS_NO_SSE41) && defined(CS_NO_AVX2) && defined(CS_NO_AVX512))
#define CS_B3_ANY_SIMD 1
#endif

#if defined(CS_B3_ANY_SIMD)
#include <cpuid.h>

enum {
    FEAT_SSE41 = 1 << 0,
    FEAT_AVX2 = 1 << 1,
    FEAT_AVX512 = 1 << 2, /* AVX512F and AVX512VL, with the OS saving ZMM state */
    FEAT_PROBED = 1 << 30,
};

static _Atomic int g_features = 0;

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int probe_features(void) {
    unsigned int eax, ebx, ecx, edx;
    int feats = FEAT_PROBED;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return feats;
    if (ecx & bit_SSE4_1) feats |= FEAT_SSE41;
    bool osxsave = (ecx & bit_OSXSAVE) != 0;
    bool avx = (ecx & bit_AVX) != 0;
    if (!osxsave || !avx) return feats;
    uint64_t xcr0 = read_xcr0();
    bool ymm_state = (xcr0 & 0x6) == 0x6;             /* XMM and YMM saved */
    bool zmm_state = (xcr0 & 0xE6) == 0xE6;           /* plus opmask and ZMM */
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return feats;
    if (ymm_state && (ebx & bit_AVX2)) feats |= FEAT_AVX2;
    if (zmm_state && (ebx & bit_AVX512F) && (ebx & bit_AVX512VL)) feats |= FEAT_AVX512;
    return feats;
}

static int cpu_features(void) {
    int feats = atomic_load_explicit(&g_features, memory_order_relaxed);
    if (feats == 0) {
        feats = probe_features();
        atomic_store_explicit(&g_features, feats, memory_order_relaxed);
    }
    return feats;
}
#endif

const cs_b3_impl *cs_b3_impl_for_tier(int tier) {
    switch (tier) {
    case CS_B3_TIER_PORTABLE:
        return &cs_b3_impl_portable;
#if defined(CS_B3_ANY_SIMD)
#if !defined(CS_NO_SSE41)
    case CS_B3_TIER_SSE41:
        return (cpu_features() & FEAT_SSE41) ? &cs_b3_impl_sse41 : NULL;
#endif
#if !defined(CS_NO_AVX2)
    case CS_B3_TIER_AVX2:
        return (cpu_features() & FEAT_AVX2) ? &cs_b3_impl_avx2 : NULL;
#endif
#if !defined(CS_NO_AVX512)
    case CS_B3_TIER_AVX512:
        return (cpu_features() & FEAT_AVX512) ? &cs_b3_impl_avx512 : NULL;
#endif
#endif
    case CS_B3_TIER_BEST:
        return cs_b3_impl_for_tier(cs_b3_best_tier());
    default:
        return NULL;
    }
}

int cs_b3_tier_available(int tier) {
    if (tier == CS_B3_TIER_BEST) return 1;
    return cs_b3_impl_for_tier(tier) != NULL;
}

int cs_b3_best_tier(void) {
    /* Highest first; the portable tier is always there. */
    static const int order[] = {CS_B3_TIER_AVX512, CS_B3_TIER_AVX2, CS_B3_TIER_SSE41};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (cs_b3_impl_for_tier(order[i]) != NULL) return order[i];
    }
    return CS_B3_TIER_PORTABLE;
}
