#include "qcalc/rational.h"
#include "testlib.h"

#include <stdlib.h>

static rat_t parse(const char *s)
{
    rat_t r;
    rat_init(&r);
    int rc = rat_parse(&r, s, strlen(s));
    CHECK(rc == 0);
    return r;
}

static void check_frac(const rat_t *v, const char *want)
{
    char *s = rat_to_fraction(v);
    CHECK_STR(s, want);
    free(s);
}

static void check_dec(const rat_t *v, unsigned digits, const char *want, int want_exact)
{
    int exact = -1;
    char *s = rat_to_decimal(v, digits, &exact);
    CHECK_STR(s, want);
    CHECK(exact == want_exact);
    free(s);
}

void test_rational(void)
{
    rat_t a = parse("1.25"), b = parse("3"), c;
    rat_init(&c);
    check_frac(&a, "5/4");
    CHECK(rat_div(&c, &a, &b) == 0);
    check_frac(&c, "5/12");
    check_dec(&c, 5, "0.41667", 0);
    rat_sub(&c, &c, &c);
    CHECK(rat_is_zero(&c));
    check_dec(&c, 5, "0", 1);

    rat_free(&a);
    a = parse("1e-3");
    check_frac(&a, "1/1000");
    check_dec(&a, 2, "0", 0);
    check_dec(&a, 3, "0.001", 1);
    rat_free(&a);
    a = parse("2.5E+3");
    check_frac(&a, "2500");
    rat_free(&a);
    a = parse("0x1F");
    check_frac(&a, "31");
    rat_free(&a);
    a = parse("0b1011");
    check_frac(&a, "11");
    rat_free(&a);
    a = parse(".5");
    check_frac(&a, "1/2");

    rat_t bad;
    rat_init(&bad);
    CHECK(rat_parse(&bad, "1e", 2) == -1);
    CHECK(rat_parse(&bad, "1e999999999", 11) == -2);
    CHECK(rat_parse(&bad, "0x", 2) == -1);
    rat_free(&bad);

    /* rounding: halves away from zero */
    rat_free(&a);
    a = parse("2.5");
    rat_round(&c, &a);
    check_frac(&c, "3");
    rat_neg(&a, &a);
    rat_round(&c, &a);
    check_frac(&c, "-3");
    rat_floor(&c, &a);
    check_frac(&c, "-3");
    rat_ceil(&c, &a);
    check_frac(&c, "-2");
    rat_trunc(&c, &a);
    check_frac(&c, "-2");
    check_dec(&a, 0, "-3", 0);

    /* modulo takes the sign of the divisor */
    rat_free(&a);
    rat_free(&b);
    a = parse("7");
    b = parse("3");
    rat_neg(&a, &a);
    CHECK(rat_mod(&c, &a, &b) == 0);
    check_frac(&c, "2");
    rat_set_i64(&b, 0);
    CHECK(rat_mod(&c, &a, &b) == -1);
    CHECK(rat_div(&c, &a, &b) == -1);

    /* powers */
    rat_set_i64(&a, -2);
    CHECK(rat_pow_i(&c, &a, -3) == 0);
    check_frac(&c, "-1/8");
    CHECK(rat_pow_i(&c, &b, -1) == -1);

    rat_set_i64(&a, 1);
    rat_set_i64(&b, 3);
    rat_div(&a, &a, &b);
    rat_set_i64(&c, 1);
    rat_set_i64(&b, 2);
    rat_div(&c, &c, &b);
    CHECK(rat_cmp(&a, &c) < 0 && rat_cmp(&c, &a) > 0 && rat_cmp(&a, &a) == 0);

    rat_free(&a);
    rat_free(&b);
    rat_free(&c);
}
