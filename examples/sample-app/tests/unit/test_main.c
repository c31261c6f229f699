#include "testlib.h"

#include <stdint.h>

int tl_checks, tl_failures;

unsigned long long tl_rand(void)
{
    static uint64_t s = 0x9E3779B97F4A7C15ULL;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
}

static const struct {
    const char *name;
    void (*fn)(void);
} suites[] = {
    {"bigint", test_bigint},
    {"comba", test_comba},
    {"rational", test_rational},
    {"parser", test_parser},
    {"eval", test_eval},
};

int main(void)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        int before_checks = tl_checks, before_failures = tl_failures;
        suites[i].fn();
        printf("%-10s %4d checks, %d failed\n", suites[i].name, tl_checks - before_checks,
               tl_failures - before_failures);
    }
    printf("%s: %d checks, %d failed\n", tl_failures ? "FAIL" : "PASS", tl_checks, tl_failures);
    return tl_failures ? 1 : 0;
}
