/* Dispatch to the unrolled Comba kernels in src/comba/ by operand size. */
#include "qcalc/bigint.h"
#include "comba/comba.h"

typedef void (*mul_fn)(uint32_t *restrict, const uint32_t *restrict, const uint32_t *restrict);
typedef void (*sqr_fn)(uint32_t *restrict, const uint32_t *restrict);

#define MUL_ENTRY(n) [n] = bi_comba_mul_##n,
#define SQR_ENTRY(n) [n] = bi_comba_sqr_##n,
static const mul_fn mul_kernels[COMBA_MAX + 1] = {COMBA_SIZES(MUL_ENTRY)};
static const sqr_fn sqr_kernels[COMBA_MAX + 1] = {COMBA_SIZES(SQR_ENTRY)};

int bi_mag_mul_comba(uint32_t *r, const uint32_t *a, const uint32_t *b, size_t n)
{
    if (n > COMBA_MAX || !mul_kernels[n] || r == a || r == b)
        return 0;
    mul_kernels[n](r, a, b);
    return 1;
}

int bi_mag_sqr_comba(uint32_t *r, const uint32_t *a, size_t n)
{
    if (n > COMBA_MAX || !sqr_kernels[n] || r == a)
        return 0;
    sqr_kernels[n](r, a);
    return 1;
}
