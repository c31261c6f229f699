/* Built-in functions: number theory and rounding on exact rationals. */
#include "builtins.h"

#include <string.h>

#define MAX_FACTORIAL 100000
#define MAX_FIB 1000000

static qc_status need_int(const rat_t *v, qc_error *err, size_t pos, const char *fn)
{
    if (!rat_is_int(v)) {
        qc_set_error(err, QC_EDOMAIN, pos, "%s() needs integer arguments", fn);
        return QC_EDOMAIN;
    }
    return QC_OK;
}

static qc_status small_nonneg(const rat_t *v, int64_t max, int64_t *out,
                              qc_error *err, size_t pos, const char *fn)
{
    if (need_int(v, err, pos, fn))
        return QC_EDOMAIN;
    if (rat_sign(v) < 0) {
        qc_set_error(err, QC_EDOMAIN, pos, "%s() needs a non-negative argument", fn);
        return QC_EDOMAIN;
    }
    if (!bi_to_i64(&v->num, out) || *out > max) {
        qc_set_error(err, QC_ERANGE, pos, "%s() argument is larger than %lld", fn,
                     (long long)max);
        return QC_ERANGE;
    }
    return QC_OK;
}

#define UNUSED(x) (void)(x)

static qc_status f_abs(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec); UNUSED(err); UNUSED(pos);
    rat_abs(out, &a[0]);
    return QC_OK;
}

static qc_status f_sign(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec); UNUSED(err); UNUSED(pos);
    rat_set_i64(out, rat_sign(&a[0]));
    return QC_OK;
}

static qc_status f_num(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec); UNUSED(err); UNUSED(pos);
    rat_set_bi(out, &a[0].num);
    return QC_OK;
}

static qc_status f_den(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec); UNUSED(err); UNUSED(pos);
    rat_set_bi(out, &a[0].den);
    return QC_OK;
}

#define ROUNDING(NAME, FN)                                                      \
    static qc_status NAME(rat_t *out, rat_t *a, size_t n, unsigned prec,        \
                          qc_error *err, size_t pos)                            \
    {                                                                           \
        UNUSED(n); UNUSED(prec); UNUSED(err); UNUSED(pos);                      \
        FN(out, &a[0]);                                                         \
        return QC_OK;                                                           \
    }
ROUNDING(f_floor, rat_floor)
ROUNDING(f_ceil, rat_ceil)
ROUNDING(f_trunc, rat_trunc)
ROUNDING(f_round, rat_round)

static qc_status f_min(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(prec); UNUSED(err); UNUSED(pos);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (rat_cmp(&a[i], &a[best]) < 0)
            best = i;
    rat_copy(out, &a[best]);
    return QC_OK;
}

static qc_status f_max(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(prec); UNUSED(err); UNUSED(pos);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (rat_cmp(&a[i], &a[best]) > 0)
            best = i;
    rat_copy(out, &a[best]);
    return QC_OK;
}

static qc_status f_gcd(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(prec);
    bi_t g;
    bi_init(&g);
    for (size_t i = 0; i < n; i++) {
        if (need_int(&a[i], err, pos, "gcd")) {
            bi_free(&g);
            return QC_EDOMAIN;
        }
        bi_gcd(&g, &g, &a[i].num);
    }
    rat_set_bi(out, &g);
    bi_free(&g);
    return QC_OK;
}

static qc_status f_lcm(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(prec);
    bi_t l, g;
    bi_init(&l);
    bi_init(&g);
    bi_set_i64(&l, 1);
    for (size_t i = 0; i < n; i++) {
        if (need_int(&a[i], err, pos, "lcm")) {
            bi_free(&l);
            bi_free(&g);
            return QC_EDOMAIN;
        }
        if (bi_is_zero(&a[i].num)) {
            bi_set_i64(&l, 0);
            break;
        }
        bi_gcd(&g, &l, &a[i].num);
        bi_divmod(&l, NULL, &l, &g);
        bi_mul(&l, &l, &a[i].num);
        bi_abs(&l, &l);
    }
    rat_set_bi(out, &l);
    bi_free(&l);
    bi_free(&g);
    return QC_OK;
}

/* Product of the integers in [lo, hi] by binary splitting (balanced operands). */
static void range_product(bi_t *r, int64_t lo, int64_t hi)
{
    if (lo > hi) {
        bi_set_i64(r, 1);
        return;
    }
    if (hi - lo < 8) {
        bi_set_i64(r, lo);
        for (int64_t k = lo + 1; k <= hi; k++)
            bi_mul_u32(r, r, (uint32_t)k);
        return;
    }
    int64_t mid = lo + (hi - lo) / 2;
    bi_t right;
    bi_init(&right);
    range_product(r, lo, mid);
    range_product(&right, mid + 1, hi);
    bi_mul(r, r, &right);
    bi_free(&right);
}

qc_status builtin_factorial(rat_t *out, const rat_t *v, qc_error *err, size_t pos)
{
    int64_t n;
    qc_status st = small_nonneg(v, MAX_FACTORIAL, &n, err, pos, "fact");
    if (st)
        return st;
    bi_t r;
    bi_init(&r);
    range_product(&r, 1, n);
    rat_set_bi(out, &r);
    bi_free(&r);
    return QC_OK;
}

static qc_status f_fact(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    return builtin_factorial(out, &a[0], err, pos);
}

static qc_status f_binom(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    int64_t nn, k;
    qc_status st = small_nonneg(&a[0], MAX_FACTORIAL, &nn, err, pos, "binom");
    if (!st)
        st = small_nonneg(&a[1], MAX_FACTORIAL, &k, err, pos, "binom");
    if (st)
        return st;
    if (k > nn) {
        rat_set_i64(out, 0);
        return QC_OK;
    }
    if (k > nn - k)
        k = nn - k;
    bi_t top, bottom;
    bi_init(&top);
    bi_init(&bottom);
    range_product(&top, nn - k + 1, nn);
    range_product(&bottom, 1, k);
    bi_divmod(&top, NULL, &top, &bottom);
    rat_set_bi(out, &top);
    bi_free(&top);
    bi_free(&bottom);
    return QC_OK;
}

/* Fast doubling: F(2k) = F(k)(2F(k+1) - F(k)), F(2k+1) = F(k)^2 + F(k+1)^2. */
static qc_status f_fib(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    int64_t k;
    qc_status st = small_nonneg(&a[0], MAX_FIB, &k, err, pos, "fib");
    if (st)
        return st;
    bi_t f0, f1, t, u;
    bi_init(&f0);
    bi_init(&f1);
    bi_init(&t);
    bi_init(&u);
    bi_set_i64(&f0, 0);
    bi_set_i64(&f1, 1);
    for (int bit = 62; bit >= 0; bit--) {
        bi_add(&t, &f1, &f1);
        bi_sub(&t, &t, &f0);
        bi_mul(&t, &t, &f0);          /* F(2k)   */
        bi_mul(&u, &f0, &f0);
        bi_mul(&f1, &f1, &f1);
        bi_add(&u, &u, &f1);          /* F(2k+1) */
        if ((k >> bit) & 1) {
            bi_add(&f1, &t, &u);
            bi_swap(&f0, &u);
        } else {
            bi_swap(&f0, &t);
            bi_swap(&f1, &u);
        }
    }
    rat_set_bi(out, &f0);
    bi_free(&f0);
    bi_free(&f1);
    bi_free(&t);
    bi_free(&u);
    return QC_OK;
}

int bi_is_probable_prime(const bi_t *n)
{
    static const uint32_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41};
    if (bi_cmp_i64(n, 2) < 0)
        return 0;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (bi_cmp_i64(n, small[i]) == 0)
            return 1;
        if (bi_divmod_u32(NULL, n, small[i]) == 0)
            return 0;
    }
    /* n - 1 = d * 2^s */
    bi_t nm1, d, x, base;
    bi_init(&nm1);
    bi_init(&d);
    bi_init(&x);
    bi_init(&base);
    bi_add_i64(&nm1, n, -1);
    size_t s = 0;
    bi_copy(&d, &nm1);
    while (!bi_is_odd(&d)) {
        bi_shr(&d, &d, 1);
        s++;
    }
    int prime = 1;
    for (size_t i = 0; prime && i < sizeof small / sizeof small[0]; i++) {
        bi_set_i64(&base, small[i]);
        bi_powmod(&x, &base, &d, n);
        if (bi_cmp_i64(&x, 1) == 0 || bi_cmp(&x, &nm1) == 0)
            continue;
        int witness = 1;
        for (size_t r = 1; r < s; r++) {
            bi_mul(&x, &x, &x);
            bi_divmod(NULL, &x, &x, n);
            if (bi_cmp(&x, &nm1) == 0) {
                witness = 0;
                break;
            }
        }
        if (witness)
            prime = 0;
    }
    bi_free(&nm1);
    bi_free(&d);
    bi_free(&x);
    bi_free(&base);
    return prime;
}

static qc_status f_isprime(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    if (need_int(&a[0], err, pos, "isprime"))
        return QC_EDOMAIN;
    rat_set_i64(out, bi_is_probable_prime(&a[0].num));
    return QC_OK;
}

static qc_status f_nextprime(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    if (need_int(&a[0], err, pos, "nextprime"))
        return QC_EDOMAIN;
    bi_t c;
    bi_init(&c);
    bi_add_i64(&c, &a[0].num, 1);
    if (bi_cmp_i64(&c, 2) < 0)
        bi_set_i64(&c, 2);
    while (!bi_is_probable_prime(&c))
        bi_add_i64(&c, &c, 1);
    rat_set_bi(out, &c);
    bi_free(&c);
    return QC_OK;
}

static qc_status f_powmod(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    for (int i = 0; i < 3; i++)
        if (need_int(&a[i], err, pos, "powmod"))
            return QC_EDOMAIN;
    bi_t r;
    bi_init(&r);
    if (bi_powmod(&r, &a[0].num, &a[1].num, &a[2].num) != 0) {
        bi_free(&r);
        qc_set_error(err, QC_EDOMAIN, pos, "powmod() needs e >= 0 and m > 0");
        return QC_EDOMAIN;
    }
    rat_set_bi(out, &r);
    bi_free(&r);
    return QC_OK;
}

static qc_status f_isqrt(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    if (need_int(&a[0], err, pos, "isqrt"))
        return QC_EDOMAIN;
    bi_t r;
    bi_init(&r);
    if (bi_isqrt(&r, &a[0].num) != 0) {
        bi_free(&r);
        qc_set_error(err, QC_EDOMAIN, pos, "isqrt() of a negative number");
        return QC_EDOMAIN;
    }
    rat_set_bi(out, &r);
    bi_free(&r);
    return QC_OK;
}

/* sqrt(p/q) to `precision` decimals: isqrt(p * q * 10^(2k)) / (q * 10^k),
 * exact when p/q is a perfect square of a rational. */
static qc_status f_sqrt(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n);
    if (rat_sign(&a[0]) < 0) {
        qc_set_error(err, QC_EDOMAIN, pos, "sqrt() of a negative number");
        return QC_EDOMAIN;
    }
    bi_t rn, rd;
    bi_init(&rn);
    bi_init(&rd);
    bi_isqrt(&rn, &a[0].num);
    bi_isqrt(&rd, &a[0].den);
    bi_t sq;
    bi_init(&sq);
    bi_mul(&sq, &rn, &rn);
    int exact = bi_cmp(&sq, &a[0].num) == 0;
    bi_mul(&sq, &rd, &rd);
    exact = exact && bi_cmp(&sq, &a[0].den) == 0;
    if (!exact) {
        bi_t scale, ten;
        bi_init(&scale);
        bi_init(&ten);
        bi_set_i64(&ten, 10);
        bi_pow_u(&scale, &ten, prec + 2);
        bi_mul(&sq, &a[0].num, &a[0].den);
        bi_mul(&sq, &sq, &scale);
        bi_mul(&sq, &sq, &scale);
        bi_isqrt(&rn, &sq);
        bi_mul(&rd, &a[0].den, &scale);
        bi_free(&scale);
        bi_free(&ten);
    }
    rat_set_frac(out, &rn, &rd);
    bi_free(&rn);
    bi_free(&rd);
    bi_free(&sq);
    return QC_OK;
}

static qc_status f_digits(rat_t *out, rat_t *a, size_t n, unsigned prec, qc_error *err, size_t pos)
{
    UNUSED(n); UNUSED(prec);
    if (need_int(&a[0], err, pos, "digits"))
        return QC_EDOMAIN;
    rat_set_i64(out, (int64_t)bi_decimal_digits(&a[0].num));
    return QC_OK;
}

static const builtin table[] = {
    {"abs", 1, 1, f_abs, "absolute value"},
    {"binom", 2, 2, f_binom, "binomial coefficient n choose k"},
    {"ceil", 1, 1, f_ceil, "smallest integer >= x"},
    {"den", 1, 1, f_den, "denominator"},
    {"digits", 1, 1, f_digits, "number of decimal digits of an integer"},
    {"fact", 1, 1, f_fact, "factorial (also n!)"},
    {"fib", 1, 1, f_fib, "n-th Fibonacci number"},
    {"floor", 1, 1, f_floor, "largest integer <= x"},
    {"gcd", 1, 0, f_gcd, "greatest common divisor"},
    {"isprime", 1, 1, f_isprime, "1 if n is prime (Miller-Rabin)"},
    {"isqrt", 1, 1, f_isqrt, "integer square root"},
    {"lcm", 1, 0, f_lcm, "least common multiple"},
    {"max", 1, 0, f_max, "largest argument"},
    {"min", 1, 0, f_min, "smallest argument"},
    {"nextprime", 1, 1, f_nextprime, "smallest prime > n"},
    {"num", 1, 1, f_num, "numerator"},
    {"powmod", 3, 3, f_powmod, "a^e mod m"},
    {"round", 1, 1, f_round, "nearest integer, halves away from zero"},
    {"sign", 1, 1, f_sign, "-1, 0 or 1"},
    {"sqrt", 1, 1, f_sqrt, "square root (exact when possible)"},
    {"trunc", 1, 1, f_trunc, "integer part"},
};

const builtin *builtin_find(const char *name, size_t len)
{
    /* the table is sorted by name */
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(table[mid].name, name, len);
        if (c == 0 && table[mid].name[len] != 0)
            c = 1;
        if (c == 0)
            return &table[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const builtin *builtin_table(size_t *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}
