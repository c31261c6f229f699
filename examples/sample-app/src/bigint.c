/* Arbitrary-precision integers: sign-magnitude with 32-bit limbs. */
#include "qcalc/bigint.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static void reserve(bi_t *a, size_t n)
{
    if (a->cap >= n)
        return;
    size_t cap = a->cap ? a->cap : 4;
    while (cap < n)
        cap *= 2;
    a->d = xrealloc(a->d, cap * sizeof *a->d);
    a->cap = cap;
}

static void trim(bi_t *a)
{
    while (a->len && a->d[a->len - 1] == 0)
        a->len--;
    if (a->len == 0)
        a->neg = 0;
}

void bi_init(bi_t *a)
{
    a->neg = 0;
    a->len = a->cap = 0;
    a->d = NULL;
}

void bi_free(bi_t *a)
{
    free(a->d);
    bi_init(a);
}

void bi_swap(bi_t *a, bi_t *b)
{
    bi_t t = *a;
    *a = *b;
    *b = t;
}

void bi_copy(bi_t *r, const bi_t *a)
{
    if (r == a)
        return;
    reserve(r, a->len);
    if (a->len)
        memcpy(r->d, a->d, a->len * sizeof *a->d);
    r->len = a->len;
    r->neg = a->neg;
}

void bi_set_u64(bi_t *r, uint64_t v)
{
    reserve(r, 2);
    r->d[0] = (uint32_t)v;
    r->d[1] = (uint32_t)(v >> 32);
    r->len = 2;
    r->neg = 0;
    trim(r);
}

void bi_set_i64(bi_t *r, int64_t v)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    bi_set_u64(r, m);
    r->neg = v < 0 && m != 0;
}

/* ---- magnitude kernels ------------------------------------------------ */

static int mag_cmp(const uint32_t *a, size_t an, const uint32_t *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    while (an--) {
        if (a[an] != b[an])
            return a[an] < b[an] ? -1 : 1;
    }
    return 0;
}

/* r = a + b, an >= bn; r has room for an + 1 limbs; returns the length. */
static size_t mag_add(uint32_t *r, const uint32_t *a, size_t an,
                      const uint32_t *b, size_t bn)
{
    uint64_t carry = 0;
    size_t i;
    for (i = 0; i < bn; i++) {
        carry += (uint64_t)a[i] + b[i];
        r[i] = (uint32_t)carry;
        carry >>= 32;
    }
    for (; i < an; i++) {
        carry += a[i];
        r[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r[an] = (uint32_t)carry;
    return an + (carry != 0);
}

/* r = a - b, requires |a| >= |b|; returns the borrow (0 when the precondition holds). */
static uint32_t mag_sub(uint32_t *r, const uint32_t *a, size_t an,
                        const uint32_t *b, size_t bn)
{
    int64_t borrow = 0;
    size_t i;
    for (i = 0; i < bn; i++) {
        int64_t t = (int64_t)a[i] - b[i] - borrow;
        borrow = t < 0;
        r[i] = (uint32_t)t;
    }
    for (; i < an; i++) {
        int64_t t = (int64_t)a[i] - borrow;
        borrow = t < 0;
        r[i] = (uint32_t)t;
    }
    return (uint32_t)borrow;
}

void bi_mag_mul_school(uint32_t *r, const uint32_t *a, size_t an,
                       const uint32_t *b, size_t bn)
{
    memset(r, 0, (an + bn) * sizeof *r);
    for (size_t i = 0; i < an; i++) {
        uint64_t carry = 0;
        uint64_t ai = a[i];
        if (ai == 0)
            continue;
        for (size_t j = 0; j < bn; j++) {
            carry += ai * b[j] + r[i + j];
            r[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        r[i + bn] = (uint32_t)carry;
    }
}

static size_t mag_len(const uint32_t *a, size_t n)
{
    while (n && a[n - 1] == 0)
        n--;
    return n;
}

/* Karatsuba for an >= bn; r must hold an + bn limbs. */
void bi_mag_mul(uint32_t *r, const uint32_t *a, size_t an,
                const uint32_t *b, size_t bn)
{
    if (an < bn) {
        const uint32_t *t = a;
        a = b;
        b = t;
        size_t tn = an;
        an = bn;
        bn = tn;
    }
    if (bn == 0) {
        memset(r, 0, an * sizeof *r);
        return;
    }
    if (an == bn) {
        if (a == b ? bi_mag_sqr_comba(r, a, an) : bi_mag_mul_comba(r, a, b, an))
            return;
    }
    size_t m = an / 2;
    if (bn < BI_KARATSUBA_CUTOFF || bn <= m) {
        bi_mag_mul_school(r, a, an, b, bn);
        return;
    }
    /* a = a1*B^m + a0, b = b1*B^m + b0 */
    const uint32_t *a0 = a, *a1 = a + m, *b0 = b, *b1 = b + m;
    size_t a0n = mag_len(a0, m), a1n = an - m, b0n = mag_len(b0, m), b1n = bn - m;
    size_t sn = a1n + 1, tn = (b1n > b0n ? b1n : b0n) + 1;
    uint32_t *sa = xcalloc(sn, sizeof *sa);
    uint32_t *sb = xcalloc(tn, sizeof *sb);
    size_t san = a1n >= a0n ? mag_add(sa, a1, a1n, a0, a0n) : mag_add(sa, a0, a0n, a1, a1n);
    size_t sbn = b1n >= b0n ? mag_add(sb, b1, b1n, b0, b0n) : mag_add(sb, b0, b0n, b1, b1n);
    san = mag_len(sa, san);
    sbn = mag_len(sb, sbn);

    uint32_t *z0 = xcalloc(2 * m + 1, sizeof *z0);
    uint32_t *z2 = xcalloc(a1n + b1n + 1, sizeof *z2);
    uint32_t *z1 = xcalloc(san + sbn + 1, sizeof *z1);
    if (a0n && b0n)
        bi_mag_mul(z0, a0, a0n, b0, b0n);
    bi_mag_mul(z2, a1, a1n, b1, b1n);
    if (san && sbn)
        bi_mag_mul(z1, sa, san, sb, sbn);
    size_t z0n = mag_len(z0, a0n + b0n), z2n = mag_len(z2, a1n + b1n);
    size_t z1n = mag_len(z1, san + sbn);
    /* z1 = (a0+a1)(b0+b1) - z0 - z2 */
    mag_sub(z1, z1, z1n, z2, z2n);
    z1n = mag_len(z1, z1n);
    mag_sub(z1, z1, z1n, z0, z0n);
    z1n = mag_len(z1, z1n);

    memset(r, 0, (an + bn) * sizeof *r);
    memcpy(r, z0, z0n * sizeof *r);
    memcpy(r + 2 * m, z2, z2n * sizeof *r);
    /* r += z1 * B^m */
    uint64_t carry = 0;
    size_t i;
    for (i = 0; i < z1n; i++) {
        carry += (uint64_t)r[m + i] + z1[i];
        r[m + i] = (uint32_t)carry;
        carry >>= 32;
    }
    for (i += m; carry && i < an + bn; i++) {
        carry += r[i];
        r[i] = (uint32_t)carry;
        carry >>= 32;
    }
    free(sa);
    free(sb);
    free(z0);
    free(z1);
    free(z2);
}

/* ---- signed arithmetic ------------------------------------------------ */

static void add_signed(bi_t *r, const bi_t *a, const bi_t *b, int bneg)
{
    bi_t t;
    bi_init(&t);
    if (a->neg == bneg) {
        const bi_t *x = a->len >= b->len ? a : b, *y = x == a ? b : a;
        reserve(&t, x->len + 1);
        t.len = mag_add(t.d, x->d, x->len, y->d, y->len);
        t.neg = a->neg;
    } else {
        int c = mag_cmp(a->d, a->len, b->d, b->len);
        if (c == 0) {
            bi_free(&t);
            r->len = 0;
            r->neg = 0;
            return;
        }
        const bi_t *x = c > 0 ? a : b, *y = c > 0 ? b : a;
        reserve(&t, x->len);
        mag_sub(t.d, x->d, x->len, y->d, y->len);
        t.len = x->len;
        t.neg = c > 0 ? a->neg : bneg;
    }
    trim(&t);
    bi_swap(r, &t);
    bi_free(&t);
}

void bi_add(bi_t *r, const bi_t *a, const bi_t *b) { add_signed(r, a, b, b->neg); }
void bi_sub(bi_t *r, const bi_t *a, const bi_t *b) { add_signed(r, a, b, b->len ? !b->neg : 0); }

void bi_add_i64(bi_t *r, const bi_t *a, int64_t v)
{
    bi_t t;
    bi_init(&t);
    bi_set_i64(&t, v);
    bi_add(r, a, &t);
    bi_free(&t);
}

void bi_neg(bi_t *r, const bi_t *a)
{
    bi_copy(r, a);
    if (r->len)
        r->neg = !r->neg;
}

void bi_abs(bi_t *r, const bi_t *a)
{
    bi_copy(r, a);
    r->neg = 0;
}

void bi_mul(bi_t *r, const bi_t *a, const bi_t *b)
{
    if (a->len == 0 || b->len == 0) {
        r->len = 0;
        r->neg = 0;
        return;
    }
    bi_t t;
    bi_init(&t);
    reserve(&t, a->len + b->len);
    bi_mag_mul(t.d, a->d, a->len, b->d, b->len);
    t.len = a->len + b->len;
    t.neg = a->neg != b->neg;
    trim(&t);
    bi_swap(r, &t);
    bi_free(&t);
}

void bi_mul_u32(bi_t *r, const bi_t *a, uint32_t m)
{
    bi_copy(r, a);
    reserve(r, r->len + 1);
    uint64_t carry = 0;
    for (size_t i = 0; i < r->len; i++) {
        carry += (uint64_t)r->d[i] * m;
        r->d[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->d[r->len++] = (uint32_t)carry;
    trim(r);
}

uint32_t bi_divmod_u32(bi_t *q, const bi_t *a, uint32_t d)
{
    bi_t t;
    bi_init(&t);
    bi_copy(&t, a);
    uint64_t rem = 0;
    for (size_t i = t.len; i-- > 0;) {
        uint64_t cur = (rem << 32) | t.d[i];
        t.d[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    trim(&t);
    if (q)
        bi_swap(q, &t);
    bi_free(&t);
    return (uint32_t)rem;
}

static int clz32(uint32_t x)
{
    int n = 0;
    if (x == 0)
        return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

/* Knuth, TAOCP vol. 2, 4.3.1, algorithm D, on magnitudes. */
static void mag_divmod(bi_t *q, bi_t *r, const bi_t *a, const bi_t *b)
{
    size_t n = b->len, m = a->len - b->len;
    int s = clz32(b->d[n - 1]);
    uint32_t *vn = xcalloc(n, sizeof *vn);
    uint32_t *un = xcalloc(a->len + 1, sizeof *un);
    for (size_t i = n - 1; i > 0; i--)
        vn[i] = s ? (b->d[i] << s) | (b->d[i - 1] >> (32 - s)) : b->d[i];
    vn[0] = b->d[0] << s;
    un[a->len] = s ? a->d[a->len - 1] >> (32 - s) : 0;
    for (size_t i = a->len - 1; i > 0; i--)
        un[i] = s ? (a->d[i] << s) | (a->d[i - 1] >> (32 - s)) : a->d[i];
    un[0] = a->d[0] << s;

    reserve(q, m + 1);
    q->len = m + 1;
    q->neg = 0;
    for (size_t j = m + 1; j-- > 0;) {
        uint64_t num = ((uint64_t)un[j + n] << 32) | un[j + n - 1];
        uint64_t qhat = num / vn[n - 1];
        uint64_t rhat = num % vn[n - 1];
        while (qhat >= ((uint64_t)1 << 32) ||
               (n > 1 && qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2]))) {
            qhat--;
            rhat += vn[n - 1];
            if (rhat >= ((uint64_t)1 << 32))
                break;
        }
        int64_t borrow = 0;
        uint64_t carry = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t p = qhat * vn[i] + carry;
            carry = p >> 32;
            int64_t t = (int64_t)un[i + j] - borrow - (int64_t)(p & 0xffffffffu);
            un[i + j] = (uint32_t)t;
            borrow = t < 0;
        }
        int64_t t = (int64_t)un[j + n] - borrow - (int64_t)carry;
        un[j + n] = (uint32_t)t;
        if (t < 0) {
            qhat--;
            uint64_t c = 0;
            for (size_t i = 0; i < n; i++) {
                c += (uint64_t)un[i + j] + vn[i];
                un[i + j] = (uint32_t)c;
                c >>= 32;
            }
            un[j + n] += (uint32_t)c;
        }
        q->d[j] = (uint32_t)qhat;
    }
    trim(q);
    reserve(r, n);
    for (size_t i = 0; i < n; i++)
        r->d[i] = s ? (un[i] >> s) | (un[i + 1] << (32 - s)) : un[i];
    r->len = n;
    r->neg = 0;
    trim(r);
    free(vn);
    free(un);
}

int bi_divmod(bi_t *q, bi_t *m, const bi_t *a, const bi_t *b)
{
    if (b->len == 0)
        return -1;
    bi_t tq, tr;
    bi_init(&tq);
    bi_init(&tr);
    if (mag_cmp(a->d, a->len, b->d, b->len) < 0) {
        bi_copy(&tr, a);
    } else if (b->len == 1) {
        bi_t aa;
        bi_init(&aa);
        bi_abs(&aa, a);
        uint32_t rem = bi_divmod_u32(&tq, &aa, b->d[0]);
        bi_set_u64(&tr, rem);
        bi_free(&aa);
        tq.neg = tq.len && (a->neg != b->neg);
        tr.neg = tr.len && a->neg;
    } else {
        mag_divmod(&tq, &tr, a, b);
        tq.neg = tq.len && (a->neg != b->neg);
        tr.neg = tr.len && a->neg;
    }
    if (q)
        bi_swap(q, &tq);
    if (m)
        bi_swap(m, &tr);
    bi_free(&tq);
    bi_free(&tr);
    return 0;
}

void bi_shl(bi_t *r, const bi_t *a, size_t bits)
{
    if (a->len == 0) {
        bi_copy(r, a);
        return;
    }
    size_t limbs = bits / 32;
    int s = (int)(bits % 32);
    bi_t t;
    bi_init(&t);
    reserve(&t, a->len + limbs + 1);
    memset(t.d, 0, (a->len + limbs + 1) * sizeof *t.d);
    for (size_t i = 0; i < a->len; i++) {
        uint64_t v = (uint64_t)a->d[i] << s;
        t.d[i + limbs] |= (uint32_t)v;
        t.d[i + limbs + 1] |= (uint32_t)(v >> 32);
    }
    t.len = a->len + limbs + 1;
    t.neg = a->neg;
    trim(&t);
    bi_swap(r, &t);
    bi_free(&t);
}

/* Shifts the magnitude right (rounds toward zero). */
void bi_shr(bi_t *r, const bi_t *a, size_t bits)
{
    size_t limbs = bits / 32;
    int s = (int)(bits % 32);
    if (limbs >= a->len) {
        r->len = 0;
        r->neg = 0;
        return;
    }
    bi_t t;
    bi_init(&t);
    size_t n = a->len - limbs;
    reserve(&t, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = a->d[i + limbs];
        uint64_t hi = i + limbs + 1 < a->len ? a->d[i + limbs + 1] : 0;
        t.d[i] = (uint32_t)(((hi << 32) | lo) >> s);
    }
    t.len = n;
    t.neg = a->neg;
    trim(&t);
    bi_swap(r, &t);
    bi_free(&t);
}

/* ---- queries ---------------------------------------------------------- */

int bi_is_zero(const bi_t *a) { return a->len == 0; }
int bi_is_odd(const bi_t *a) { return a->len && (a->d[0] & 1); }
int bi_sign(const bi_t *a) { return a->len == 0 ? 0 : a->neg ? -1 : 1; }

int bi_cmp_abs(const bi_t *a, const bi_t *b)
{
    return mag_cmp(a->d, a->len, b->d, b->len);
}

int bi_cmp(const bi_t *a, const bi_t *b)
{
    if (a->neg != b->neg)
        return a->neg ? -1 : 1;
    int c = mag_cmp(a->d, a->len, b->d, b->len);
    return a->neg ? -c : c;
}

int bi_cmp_i64(const bi_t *a, int64_t v)
{
    bi_t t;
    bi_init(&t);
    bi_set_i64(&t, v);
    int c = bi_cmp(a, &t);
    bi_free(&t);
    return c;
}

int bi_to_i64(const bi_t *a, int64_t *out)
{
    if (a->len > 2)
        return 0;
    uint64_t m = 0;
    if (a->len > 0)
        m = a->d[0];
    if (a->len > 1)
        m |= (uint64_t)a->d[1] << 32;
    if (a->neg) {
        if (m > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)m;
    }
    return 1;
}

size_t bi_bit_length(const bi_t *a)
{
    if (a->len == 0)
        return 0;
    return a->len * 32 - (size_t)clz32(a->d[a->len - 1]);
}

size_t bi_decimal_digits(const bi_t *a)
{
    char *s = bi_to_str(a, 10);
    size_t n = strlen(s) - (s[0] == '-');
    free(s);
    return n;
}

/* ---- conversion ------------------------------------------------------- */

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

int bi_set_str(bi_t *r, const char *s, size_t n, int base)
{
    size_t i = 0;
    int neg = 0;
    if (base < 2 || base > 16)
        return -1;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    /* Feed chunks of digits that fit in 32 bits: r = r * base^k + chunk. */
    bi_t t;
    bi_init(&t);
    while (i < n) {
        uint32_t chunk = 0, mult = 1;
        while (i < n && mult <= UINT32_MAX / (uint32_t)base) {
            if (s[i] == '_') {
                i++;
                continue;
            }
            int v = digit_value(s[i]);
            if (v >= base) {
                bi_free(&t);
                return -1;
            }
            chunk = chunk * (uint32_t)base + (uint32_t)v;
            mult *= (uint32_t)base;
            i++;
        }
        bi_mul_u32(&t, &t, mult);
        bi_add_i64(&t, &t, chunk);
    }
    t.neg = neg && t.len;
    bi_swap(r, &t);
    bi_free(&t);
    return 0;
}

char *bi_to_str(const bi_t *a, int base)
{
    static const char digits[] = "0123456789abcdef";
    if (a->len == 0) {
        char *z = xmalloc(2);
        z[0] = '0';
        z[1] = 0;
        return z;
    }
    /* Peel off the largest power of base fitting in a limb at a time. */
    uint32_t chunk = (uint32_t)base;
    int per = 1;
    while ((uint64_t)chunk * (uint32_t)base <= UINT32_MAX) {
        chunk *= (uint32_t)base;
        per++;
    }
    size_t cap = a->len * 32 + 3;
    char *buf = xmalloc(cap);
    size_t pos = cap;
    buf[--pos] = 0;
    bi_t t;
    bi_init(&t);
    bi_abs(&t, a);
    while (t.len) {
        uint32_t rem = bi_divmod_u32(&t, &t, chunk);
        for (int k = 0; k < per; k++) {
            buf[--pos] = digits[rem % (uint32_t)base];
            rem /= (uint32_t)base;
            if (t.len == 0 && rem == 0)
                break;
        }
    }
    bi_free(&t);
    if (a->neg)
        buf[--pos] = '-';
    memmove(buf, buf + pos, cap - pos);
    return buf;
}

/* ---- number theory ---------------------------------------------------- */

void bi_pow_u(bi_t *r, const bi_t *a, unsigned long e)
{
    bi_t base, acc;
    bi_init(&base);
    bi_init(&acc);
    bi_copy(&base, a);
    bi_set_i64(&acc, 1);
    while (e) {
        if (e & 1)
            bi_mul(&acc, &acc, &base);
        e >>= 1;
        if (e)
            bi_mul(&base, &base, &base);
    }
    bi_swap(r, &acc);
    bi_free(&base);
    bi_free(&acc);
}

void bi_gcd(bi_t *r, const bi_t *a, const bi_t *b)
{
    bi_t x, y, t;
    bi_init(&x);
    bi_init(&y);
    bi_init(&t);
    bi_abs(&x, a);
    bi_abs(&y, b);
    while (y.len) {
        bi_divmod(NULL, &t, &x, &y);
        bi_swap(&x, &y);
        bi_swap(&y, &t);
    }
    bi_swap(r, &x);
    bi_free(&x);
    bi_free(&y);
    bi_free(&t);
}

int bi_powmod(bi_t *r, const bi_t *a, const bi_t *e, const bi_t *m)
{
    if (m->len == 0 || m->neg || e->neg)
        return -1;
    bi_t base, acc;
    bi_init(&base);
    bi_init(&acc);
    bi_divmod(NULL, &base, a, m);
    if (base.neg)
        bi_add(&base, &base, m);
    bi_set_i64(&acc, 1);
    bi_divmod(NULL, &acc, &acc, m);
    size_t bits = bi_bit_length(e);
    for (size_t i = bits; i-- > 0;) {
        bi_mul(&acc, &acc, &acc);
        bi_divmod(NULL, &acc, &acc, m);
        if ((e->d[i / 32] >> (i % 32)) & 1) {
            bi_mul(&acc, &acc, &base);
            bi_divmod(NULL, &acc, &acc, m);
        }
    }
    bi_swap(r, &acc);
    bi_free(&base);
    bi_free(&acc);
    return 0;
}

int bi_isqrt(bi_t *r, const bi_t *a)
{
    if (a->neg)
        return -1;
    if (a->len == 0) {
        r->len = 0;
        r->neg = 0;
        return 0;
    }
    /* Newton from above: x0 = 2^ceil(bits/2) >= sqrt(a). */
    bi_t x, y, t;
    bi_init(&x);
    bi_init(&y);
    bi_init(&t);
    bi_set_i64(&x, 1);
    bi_shl(&x, &x, (bi_bit_length(a) + 1) / 2);
    for (;;) {
        bi_divmod(&t, NULL, a, &x);
        bi_add(&y, &x, &t);
        bi_shr(&y, &y, 1);
        if (bi_cmp(&y, &x) >= 0)
            break;
        bi_swap(&x, &y);
    }
    bi_swap(r, &x);
    bi_free(&x);
    bi_free(&y);
    bi_free(&t);
    return 0;
}
