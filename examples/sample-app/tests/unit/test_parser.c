#include "qcalc/qcalc.h"
#include "testlib.h"

#include <stdlib.h>

static void tree(const char *src, const char *want)
{
    qc_error err;
    char *s = qc_parse_tree(src, &err);
    CHECK_STR(s, want);
    free(s);
}

static void syntax_error(const char *src, size_t pos, const char *msg)
{
    qc_error err;
    char *s = qc_parse_tree(src, &err);
    CHECK(s == NULL);
    CHECK(err.code == QC_ESYNTAX);
    CHECK(err.pos == pos);
    CHECK_STR(err.msg, msg);
    free(s);
}

void test_parser(void)
{
    tree("1 + 2 * 3", "(1 + (2 * 3))");
    tree("(1 + 2) * 3", "((1 + 2) * 3)");
    tree("1 - 2 - 3", "((1 - 2) - 3)");
    tree("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))");
    tree("2 ** 3", "(2 ^ 3)");
    tree("-2^2", "(-(2 ^ 2))");
    tree("2^-1", "(2 ^ (-1))");
    tree("-3!", "(-(3!))");
    tree("3!!", "((3!)!)");
    tree("+4", "4");
    tree("x = 1 + y", "x = (1 + y)");
    tree("gcd(12, 18, x*2)", "gcd(12, 18, (x * 2))");
    tree("f()", "f()");
    tree("1 < 2 + 3", "(1 < (2 + 3))");
    tree("7 % 4 / 2", "((7 % 4) / 2)");
    tree("1.5e3 + 0x10 # comment", "(1.5e3 + 0x10)");

    syntax_error("", 0, "expected an expression, found end of input");
    syntax_error("1 +", 3, "expected a number, name or '(', found end of input");
    syntax_error("(1 + 2", 6, "expected ')', found end of input");
    syntax_error("1 2", 2, "expected an operator or end of input, found '2'");
    syntax_error("1 < 2 < 3", 6, "comparisons cannot be chained, found '<'");
    syntax_error("2 $ 3", 2, "unexpected character '$'");
    syntax_error("f(1,", 4, "expected a number, name or '(', found end of input");
}
