/* Exact rational numbers: num/den with den > 0 and gcd(num, den) = 1. */
#ifndef QCALC_RATIONAL_H
#define QCALC_RATIONAL_H

#include "qcalc/bigint.h"

typedef struct {
    bi_t num;
    bi_t den;
} rat_t;

void rat_init(rat_t *a);
void rat_free(rat_t *a);
void rat_copy(rat_t *r, const rat_t *a);
void rat_swap(rat_t *a, rat_t *b);
void rat_set_i64(rat_t *r, int64_t v);
void rat_set_bi(rat_t *r, const bi_t *v);
/* r = n / d; returns -1 if d is zero. */
int rat_set_frac(rat_t *r, const bi_t *n, const bi_t *d);
/* Parses a numeric literal: 42, 0x2a, 0b101, 3.25, 1e-3, 2.5E+7.
 * Returns 0 on success, -1 on a malformed literal, -2 if the exponent is too large. */
int rat_parse(rat_t *r, const char *s, size_t n);

int rat_is_zero(const rat_t *a);
int rat_is_int(const rat_t *a);
int rat_sign(const rat_t *a);
int rat_cmp(const rat_t *a, const rat_t *b);

void rat_neg(rat_t *r, const rat_t *a);
void rat_abs(rat_t *r, const rat_t *a);
void rat_add(rat_t *r, const rat_t *a, const rat_t *b);
void rat_sub(rat_t *r, const rat_t *a, const rat_t *b);
void rat_mul(rat_t *r, const rat_t *a, const rat_t *b);
int rat_div(rat_t *r, const rat_t *a, const rat_t *b);       /* -1: division by zero */
int rat_pow_i(rat_t *r, const rat_t *a, long e);              /* -1: 0 to a negative power */
void rat_floor(rat_t *r, const rat_t *a);
void rat_ceil(rat_t *r, const rat_t *a);
void rat_trunc(rat_t *r, const rat_t *a);
void rat_round(rat_t *r, const rat_t *a);                     /* half away from zero */
/* Integer modulo with the sign of the divisor (like Python); -1 on zero divisor. */
int rat_mod(rat_t *r, const rat_t *a, const rat_t *b);

/* Decimal expansion rounded (half away from zero) to `digits` fractional
 * digits, trailing zeros removed. *exact is set to 1 if no rounding happened. */
char *rat_to_decimal(const rat_t *a, unsigned digits, int *exact);
/* "n" or "n/d". */
char *rat_to_fraction(const rat_t *a);

#endif
