/* Exact rational arithmetic on top of bigint. */
#include "qcalc/rational.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

void rat_init(rat_t *a)
{
    bi_init(&a->num);
    bi_init(&a->den);
    bi_set_i64(&a->den, 1);
}

void rat_free(rat_t *a)
{
    bi_free(&a->num);
    bi_free(&a->den);
}

void rat_copy(rat_t *r, const rat_t *a)
{
    bi_copy(&r->num, &a->num);
    bi_copy(&r->den, &a->den);
}

void rat_swap(rat_t *a, rat_t *b)
{
    bi_swap(&a->num, &b->num);
    bi_swap(&a->den, &b->den);
}

void rat_set_i64(rat_t *r, int64_t v)
{
    bi_set_i64(&r->num, v);
    bi_set_i64(&r->den, 1);
}

void rat_set_bi(rat_t *r, const bi_t *v)
{
    bi_copy(&r->num, v);
    bi_set_i64(&r->den, 1);
}

/* Brings num/den to lowest terms with a positive denominator. */
static void normalize(rat_t *r)
{
    if (r->den.neg) {
        bi_neg(&r->num, &r->num);
        bi_neg(&r->den, &r->den);
    }
    if (bi_is_zero(&r->num)) {
        bi_set_i64(&r->den, 1);
        return;
    }
    bi_t g;
    bi_init(&g);
    bi_gcd(&g, &r->num, &r->den);
    if (bi_cmp_i64(&g, 1) != 0) {
        bi_divmod(&r->num, NULL, &r->num, &g);
        bi_divmod(&r->den, NULL, &r->den, &g);
    }
    bi_free(&g);
}

int rat_set_frac(rat_t *r, const bi_t *n, const bi_t *d)
{
    if (bi_is_zero(d))
        return -1;
    bi_copy(&r->num, n);
    bi_copy(&r->den, d);
    normalize(r);
    return 0;
}

/* Multiplies r by 10^e (e may be negative). */
static void scale10(rat_t *r, long e)
{
    bi_t p, ten;
    bi_init(&p);
    bi_init(&ten);
    bi_set_i64(&ten, 10);
    bi_pow_u(&p, &ten, (unsigned long)(e < 0 ? -e : e));
    if (e >= 0)
        bi_mul(&r->num, &r->num, &p);
    else
        bi_mul(&r->den, &r->den, &p);
    normalize(r);
    bi_free(&p);
    bi_free(&ten);
}

#define MAX_EXPONENT 100000L

int rat_parse(rat_t *r, const char *s, size_t n)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'b' || s[1] == 'B')) {
        int base = (s[1] == 'x' || s[1] == 'X') ? 16 : 2;
        if (bi_set_str(&r->num, s + 2, n - 2, base) != 0)
            return -1;
        bi_set_i64(&r->den, 1);
        return 0;
    }
    size_t i = 0, int_start = 0, int_len = 0, frac_start = 0, frac_len = 0;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    int_len = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_len = i - frac_start;
    }
    if (int_len + frac_len == 0)
        return -1;
    long exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i == n)
            return -1;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            exp10 = exp10 * 10 + (s[i++] - '0');
            if (exp10 > MAX_EXPONENT)
                return -2;
        }
        if (eneg)
            exp10 = -exp10;
    }
    if (i != n)
        return -1;
    char *digits = xmalloc(int_len + frac_len + 2);
    memcpy(digits, s + int_start, int_len);
    memcpy(digits + int_len, s + frac_start, frac_len);
    if (int_len + frac_len == 0)
        digits[0] = '0';
    int rc = bi_set_str(&r->num, digits, int_len + frac_len, 10);
    free(digits);
    if (rc != 0)
        return -1;
    bi_set_i64(&r->den, 1);
    scale10(r, exp10 - (long)frac_len);
    return 0;
}

int rat_is_zero(const rat_t *a) { return bi_is_zero(&a->num); }
int rat_is_int(const rat_t *a) { return bi_cmp_i64(&a->den, 1) == 0; }
int rat_sign(const rat_t *a) { return bi_sign(&a->num); }

int rat_cmp(const rat_t *a, const rat_t *b)
{
    bi_t x, y;
    bi_init(&x);
    bi_init(&y);
    bi_mul(&x, &a->num, &b->den);
    bi_mul(&y, &b->num, &a->den);
    int c = bi_cmp(&x, &y);
    bi_free(&x);
    bi_free(&y);
    return c;
}

void rat_neg(rat_t *r, const rat_t *a)
{
    rat_copy(r, a);
    bi_neg(&r->num, &r->num);
}

void rat_abs(rat_t *r, const rat_t *a)
{
    rat_copy(r, a);
    r->num.neg = 0;
}

static void add_sub(rat_t *r, const rat_t *a, const rat_t *b, int sub)
{
    rat_t t;
    bi_t x;
    rat_init(&t);
    bi_init(&x);
    bi_mul(&t.num, &a->num, &b->den);
    bi_mul(&x, &b->num, &a->den);
    if (sub)
        bi_sub(&t.num, &t.num, &x);
    else
        bi_add(&t.num, &t.num, &x);
    bi_mul(&t.den, &a->den, &b->den);
    normalize(&t);
    rat_swap(r, &t);
    rat_free(&t);
    bi_free(&x);
}

void rat_add(rat_t *r, const rat_t *a, const rat_t *b) { add_sub(r, a, b, 0); }
void rat_sub(rat_t *r, const rat_t *a, const rat_t *b) { add_sub(r, a, b, 1); }

void rat_mul(rat_t *r, const rat_t *a, const rat_t *b)
{
    rat_t t;
    rat_init(&t);
    bi_mul(&t.num, &a->num, &b->num);
    bi_mul(&t.den, &a->den, &b->den);
    normalize(&t);
    rat_swap(r, &t);
    rat_free(&t);
}

int rat_div(rat_t *r, const rat_t *a, const rat_t *b)
{
    if (rat_is_zero(b))
        return -1;
    rat_t t;
    rat_init(&t);
    bi_mul(&t.num, &a->num, &b->den);
    bi_mul(&t.den, &a->den, &b->num);
    normalize(&t);
    rat_swap(r, &t);
    rat_free(&t);
    return 0;
}

int rat_pow_i(rat_t *r, const rat_t *a, long e)
{
    if (e < 0 && rat_is_zero(a))
        return -1;
    unsigned long m = e < 0 ? 0UL - (unsigned long)e : (unsigned long)e;
    rat_t t;
    rat_init(&t);
    bi_pow_u(&t.num, &a->num, m);
    bi_pow_u(&t.den, &a->den, m);
    if (e < 0)
        bi_swap(&t.num, &t.den);
    normalize(&t);
    rat_swap(r, &t);
    rat_free(&t);
    return 0;
}

void rat_trunc(rat_t *r, const rat_t *a)
{
    bi_t q;
    bi_init(&q);
    bi_divmod(&q, NULL, &a->num, &a->den);
    rat_set_bi(r, &q);
    bi_free(&q);
}

void rat_floor(rat_t *r, const rat_t *a)
{
    bi_t q, m;
    bi_init(&q);
    bi_init(&m);
    bi_divmod(&q, &m, &a->num, &a->den);
    if (m.neg)
        bi_add_i64(&q, &q, -1);
    rat_set_bi(r, &q);
    bi_free(&q);
    bi_free(&m);
}

void rat_ceil(rat_t *r, const rat_t *a)
{
    bi_t q, m;
    bi_init(&q);
    bi_init(&m);
    bi_divmod(&q, &m, &a->num, &a->den);
    if (bi_sign(&m) > 0)
        bi_add_i64(&q, &q, 1);
    rat_set_bi(r, &q);
    bi_free(&q);
    bi_free(&m);
}

void rat_round(rat_t *r, const rat_t *a)
{
    /* trunc(a + sign(a)/2) */
    rat_t half, t;
    rat_init(&half);
    rat_init(&t);
    bi_set_i64(&half.num, rat_sign(a) < 0 ? -1 : 1);
    bi_set_i64(&half.den, 2);
    rat_add(&t, a, &half);
    rat_trunc(r, &t);
    rat_free(&half);
    rat_free(&t);
}

int rat_mod(rat_t *r, const rat_t *a, const rat_t *b)
{
    /* a - b * floor(a / b) */
    rat_t q;
    rat_init(&q);
    if (rat_div(&q, a, b) != 0) {
        rat_free(&q);
        return -1;
    }
    rat_floor(&q, &q);
    rat_mul(&q, &q, b);
    rat_sub(r, a, &q);
    rat_free(&q);
    return 0;
}

char *rat_to_fraction(const rat_t *a)
{
    char *n = bi_to_str(&a->num, 10);
    if (rat_is_int(a))
        return n;
    char *d = bi_to_str(&a->den, 10);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s/%s", n, d);
    free(n);
    free(d);
    return sb_take(&sb);
}

char *rat_to_decimal(const rat_t *a, unsigned digits, int *exact)
{
    bi_t scaled, p, q, m, ten;
    bi_init(&scaled);
    bi_init(&p);
    bi_init(&q);
    bi_init(&m);
    bi_init(&ten);
    bi_set_i64(&ten, 10);
    bi_pow_u(&p, &ten, digits);
    bi_abs(&scaled, &a->num);
    bi_mul(&scaled, &scaled, &p);
    bi_divmod(&q, &m, &scaled, &a->den);
    if (exact)
        *exact = bi_is_zero(&m);
    /* round half away from zero: compare 2*m with den */
    bi_shl(&m, &m, 1);
    if (bi_cmp(&m, &a->den) >= 0)
        bi_add_i64(&q, &q, 1);
    char *ds = bi_to_str(&q, 10);
    size_t len = strlen(ds);
    strbuf sb;
    sb_init(&sb);
    if (rat_sign(a) < 0 && !(len == 1 && ds[0] == '0'))
        sb_putc(&sb, '-');
    if (len <= digits) {
        sb_puts(&sb, "0.");
        for (size_t k = len; k < digits; k++)
            sb_putc(&sb, '0');
        sb_puts(&sb, ds);
    } else {
        sb_putn(&sb, ds, len - digits);
        if (digits) {
            sb_putc(&sb, '.');
            sb_puts(&sb, ds + len - digits);
        }
    }
    free(ds);
    char *out = sb_take(&sb);
    if (strchr(out, '.')) {
        size_t n = strlen(out);
        while (out[n - 1] == '0')
            out[--n] = 0;
        if (out[n - 1] == '.')
            out[--n] = 0;
    }
    if (strcmp(out, "-0") == 0) {
        out[0] = '0';
        out[1] = 0;
    }
    bi_free(&scaled);
    bi_free(&p);
    bi_free(&q);
    bi_free(&m);
    bi_free(&ten);
    return out;
}
