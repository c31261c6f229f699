#include "qcalc/qcalc.h"
#include "testlib.h"

#include <stdlib.h>

static qc_ctx *ctx;

static void ok(const char *src, const char *want)
{
    qc_error err;
    char *s = qc_eval_str(ctx, src, &err);
    if (!s)
        fprintf(stderr, "  %s: %s\n", src, err.msg);
    CHECK_STR(s, want);
    free(s);
}

static void fails(const char *src, qc_status code)
{
    qc_error err;
    char *s = qc_eval_str(ctx, src, &err);
    CHECK(s == NULL);
    CHECK(err.code == code);
    free(s);
}

void test_eval(void)
{
    ctx = qc_new();
    ok("1 + 2 * 3", "7");
    ok("1/3 + 1/6", "0.5");
    ok("1/3", "1/3 ~ 0.33333333333333333333");
    ok("0.1 + 0.2 == 0.3", "1");
    ok("2^100", "1267650600228229401496703205376");
    ok("2^-2", "0.25");
    ok("-2^2", "-4");
    ok("(-2)^3", "-8");
    ok("-7 % 3", "2");
    ok("x = 6", "6");
    ok("y = x * 7", "42");
    ok("ans + 1", "43");
    ok("20!", "2432902008176640000");
    ok("digits(1000!)", "2568");
    ok("binom(50, 25)", "126410606437752");
    ok("fib(100)", "354224848179261915075");
    ok("gcd(84, -36, 120)", "12");
    ok("lcm(4, 6, 10)", "60");
    ok("isprime(2^61 - 1)", "1");
    ok("isprime(2^61 + 1)", "0");
    ok("nextprime(10^20)", "100000000000000000039");
    ok("powmod(3, 10^18, 10^9 + 7)", "246336683");
    ok("isqrt(10^40)", "100000000000000000000");
    ok("sqrt(9/16)", "0.75");
    ok("floor(-7/2) + ceil(7/2) + round(5/2) + trunc(-5/2)", "1");
    ok("min(3, 1/2, 7) + max(-1, -2)", "-0.5");
    ok("num(6/8) * 10 + den(6/8)", "34");
    ok("abs(-5) * sign(-5)", "-5");
    ok("1_000 * 1e3", "1000000");

    qc_set_precision(ctx, 5);
    ok("sqrt(2)", "2828427/2000000 ~ 1.41421");
    qc_set_format(ctx, QC_FMT_DECIMAL);
    ok("2/3", "0.66667");
    qc_set_format(ctx, QC_FMT_FRACTION);
    ok("0.125", "1/8");

    fails("1/0", QC_EDIVZERO);
    fails("0^-1", QC_EDIVZERO);
    fails("nosuch", QC_EUNDEF);
    fails("nosuch(1)", QC_EUNDEF);
    fails("gcd()", QC_EARGS);
    fails("binom(1)", QC_EARGS);
    fails("(1/2)!", QC_EDOMAIN);
    fails("(-1)!", QC_EDOMAIN);
    fails("2^(1/2)", QC_EDOMAIN);
    fails("sqrt(-1)", QC_EDOMAIN);
    fails("10^10^10", QC_ERANGE);
    fails("1e999999", QC_ERANGE);
    fails("gcd = 1", QC_ESYNTAX);
    fails("1 +", QC_ESYNTAX);
    qc_free(ctx);
}
