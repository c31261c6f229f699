#include "qcalc/bigint.h"
#include "testlib.h"

#include <stdlib.h>

static void from(bi_t *r, const char *s) { bi_set_str(r, s, strlen(s), 10); }

static int eq_str(const bi_t *a, const char *want)
{
    char *s = bi_to_str(a, 10);
    int ok = strcmp(s, want) == 0;
    if (!ok)
        fprintf(stderr, "  value %s, want %s\n", s, want);
    free(s);
    return ok;
}

static void random_bi(bi_t *r, size_t limbs)
{
    bi_set_i64(r, 0);
    for (size_t i = 0; i < limbs; i++) {
        bi_shl(r, r, 32);
        bi_add_i64(r, r, (int64_t)(tl_rand() & 0xffffffffu));
    }
    if (tl_rand() & 1)
        bi_neg(r, r);
}

void test_bigint(void)
{
    bi_t a, b, c, q, m;
    bi_init(&a);
    bi_init(&b);
    bi_init(&c);
    bi_init(&q);
    bi_init(&m);

    from(&a, "123456789012345678901234567890");
    CHECK(eq_str(&a, "123456789012345678901234567890"));
    from(&b, "-987654321098765432109876543210");
    bi_add(&c, &a, &b);
    CHECK(eq_str(&c, "-864197532086419753208641975320"));
    bi_mul(&c, &a, &b);
    CHECK(eq_str(&c, "-121932631137021795226185032733622923332237463801111263526900"));
    bi_sub(&c, &a, &a);
    CHECK(bi_is_zero(&c) && bi_sign(&c) == 0);

    bi_set_i64(&a, 2);
    bi_pow_u(&c, &a, 200);
    CHECK(eq_str(&c, "1606938044258990275541962092341162602522202993782792835301376"));
    char *hex = bi_to_str(&c, 16);
    CHECK_STR(hex, "100000000000000000000000000000000000000000000000000");
    free(hex);
    CHECK(bi_bit_length(&c) == 201);
    CHECK(bi_decimal_digits(&c) == 61);

    /* truncating division like C */
    bi_set_i64(&a, -7);
    bi_set_i64(&b, 2);
    bi_divmod(&q, &m, &a, &b);
    CHECK(bi_cmp_i64(&q, -3) == 0 && bi_cmp_i64(&m, -1) == 0);
    CHECK(bi_divmod(&q, &m, &a, &c) == 0);
    bi_set_i64(&c, 0);
    CHECK(bi_divmod(&q, &m, &a, &c) == -1);

    /* property: a = q*b + m, |m| < |b|, for random multi-limb operands */
    for (int round = 0; round < 300; round++) {
        random_bi(&a, 1 + tl_rand() % 40);
        random_bi(&b, 1 + tl_rand() % 20);
        if (bi_is_zero(&b))
            continue;
        bi_divmod(&q, &m, &a, &b);
        bi_mul(&c, &q, &b);
        bi_add(&c, &c, &m);
        CHECK(bi_cmp(&c, &a) == 0);
        CHECK(bi_cmp_abs(&m, &b) < 0);
    }

    /* Karatsuba agrees with schoolbook */
    for (int round = 0; round < 20; round++) {
        size_t an = 50 + tl_rand() % 150, bn = 50 + tl_rand() % 150;
        random_bi(&a, an);
        random_bi(&b, bn);
        an = a.len;
        bn = b.len;
        uint32_t *r1 = calloc(an + bn, 4), *r2 = calloc(an + bn, 4);
        bi_mag_mul(r1, a.d, an, b.d, bn);
        bi_mag_mul_school(r2, a.d, an, b.d, bn);
        CHECK(memcmp(r1, r2, (an + bn) * 4) == 0);
        free(r1);
        free(r2);
    }

    int64_t v;
    bi_set_i64(&a, INT64_MIN);
    CHECK(bi_to_i64(&a, &v) && v == INT64_MIN);
    bi_add_i64(&a, &a, -1);
    CHECK(!bi_to_i64(&a, &v));

    from(&a, "152415787532388367504942236884722755800955129");
    bi_isqrt(&c, &a);
    CHECK(eq_str(&c, "12345678901234567890123"));
    bi_add_i64(&a, &a, -1);
    bi_isqrt(&c, &a);
    CHECK(eq_str(&c, "12345678901234567890122"));

    bi_set_i64(&a, 4);
    bi_set_i64(&b, 13);
    bi_set_i64(&c, 497);
    bi_powmod(&q, &a, &b, &c);
    CHECK(bi_cmp_i64(&q, 445) == 0);

    bi_set_i64(&a, 1071);
    bi_set_i64(&b, -462);
    bi_gcd(&c, &a, &b);
    CHECK(bi_cmp_i64(&c, 21) == 0);

    CHECK(bi_set_str(&a, "12x", 3, 10) != 0);
    CHECK(bi_set_str(&a, "ff", 2, 16) == 0 && bi_cmp_i64(&a, 255) == 0);
    CHECK(bi_set_str(&a, "1_000_000", 9, 10) == 0 && bi_cmp_i64(&a, 1000000) == 0);

    bi_free(&a);
    bi_free(&b);
    bi_free(&c);
    bi_free(&q);
    bi_free(&m);
}
