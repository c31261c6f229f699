/* A minimal test harness: CHECK records failures and keeps going. */
#ifndef QCALC_TESTLIB_H
#define QCALC_TESTLIB_H

#include <stdio.h>
#include <string.h>

extern int tl_checks, tl_failures;

#define CHECK(cond)                                                             \
    do {                                                                        \
        tl_checks++;                                                            \
        if (!(cond)) {                                                          \
            tl_failures++;                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                       \
    } while (0)

#define CHECK_STR(got, want)                                                    \
    do {                                                                        \
        const char *g_ = (got), *w_ = (want);                                   \
        tl_checks++;                                                            \
        if (!g_ || strcmp(g_, w_) != 0) {                                       \
            tl_failures++;                                                      \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    g_ ? g_ : "(null)", w_);                                    \
        }                                                                       \
    } while (0)

void test_bigint(void);
void test_comba(void);
void test_rational(void);
void test_parser(void);
void test_eval(void);

/* xorshift64*, deterministic across runs */
unsigned long long tl_rand(void);

#endif
