/* Arbitrary-precision signed integers (sign-magnitude, 32-bit limbs). */
#ifndef QCALC_BIGINT_H
#define QCALC_BIGINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int neg;          /* 1 if negative; zero is never negative */
    size_t len;       /* used limbs; 0 means the value is zero */
    size_t cap;       /* allocated limbs */
    uint32_t *d;      /* little-endian limbs */
} bi_t;

/* Multiplication switches from schoolbook to Karatsuba at this many limbs. */
#define BI_KARATSUBA_CUTOFF 48

void bi_init(bi_t *a);
void bi_free(bi_t *a);
void bi_swap(bi_t *a, bi_t *b);
void bi_copy(bi_t *r, const bi_t *a);
void bi_set_i64(bi_t *r, int64_t v);
void bi_set_u64(bi_t *r, uint64_t v);
/* Parses an optional sign and digits in base 2..16; returns 0 on success. */
int bi_set_str(bi_t *r, const char *s, size_t n, int base);
/* Returns a malloc'ed string in base 2..16. */
char *bi_to_str(const bi_t *a, int base);

int bi_is_zero(const bi_t *a);
int bi_is_odd(const bi_t *a);
int bi_sign(const bi_t *a);
int bi_cmp(const bi_t *a, const bi_t *b);
int bi_cmp_abs(const bi_t *a, const bi_t *b);
int bi_cmp_i64(const bi_t *a, int64_t v);
/* Returns 1 and stores the value if it fits in an int64_t. */
int bi_to_i64(const bi_t *a, int64_t *out);
size_t bi_bit_length(const bi_t *a);
size_t bi_decimal_digits(const bi_t *a);

void bi_neg(bi_t *r, const bi_t *a);
void bi_abs(bi_t *r, const bi_t *a);
void bi_add(bi_t *r, const bi_t *a, const bi_t *b);
void bi_sub(bi_t *r, const bi_t *a, const bi_t *b);
void bi_mul(bi_t *r, const bi_t *a, const bi_t *b);
void bi_mul_u32(bi_t *r, const bi_t *a, uint32_t m);
void bi_add_i64(bi_t *r, const bi_t *a, int64_t v);
/* Truncating division (like C): q = a / b, m = a % b. Either may be NULL.
 * Returns -1 if b is zero, 0 otherwise. */
int bi_divmod(bi_t *q, bi_t *m, const bi_t *a, const bi_t *b);
/* Floor division by a small positive divisor; returns the remainder. */
uint32_t bi_divmod_u32(bi_t *q, const bi_t *a, uint32_t d);
void bi_shl(bi_t *r, const bi_t *a, size_t bits);
void bi_shr(bi_t *r, const bi_t *a, size_t bits);
void bi_pow_u(bi_t *r, const bi_t *a, unsigned long e);
void bi_gcd(bi_t *r, const bi_t *a, const bi_t *b);
/* r = a^e mod m for e >= 0, m > 0; result in [0, m). Returns -1 on bad input. */
int bi_powmod(bi_t *r, const bi_t *a, const bi_t *e, const bi_t *m);
/* Floor of the square root of a >= 0; returns -1 if a < 0. */
int bi_isqrt(bi_t *r, const bi_t *a);

/* Raw magnitude kernels, exposed for tests and benchmarks. */
void bi_mag_mul_school(uint32_t *r, const uint32_t *a, size_t an,
                       const uint32_t *b, size_t bn);
void bi_mag_mul(uint32_t *r, const uint32_t *a, size_t an,
                const uint32_t *b, size_t bn);
/* Fixed-size fully unrolled Comba products (r has 2n limbs); returns 0 if
 * no kernel exists for n. */
int bi_mag_mul_comba(uint32_t *r, const uint32_t *a, const uint32_t *b, size_t n);
int bi_mag_sqr_comba(uint32_t *r, const uint32_t *a, size_t n);

#endif
