/* Built-in functions. */
#ifndef QCALC_BUILTINS_H
#define QCALC_BUILTINS_H

#include <stddef.h>

#include "qcalc/qcalc.h"

typedef qc_status (*builtin_fn)(rat_t *out, rat_t *args, size_t nargs,
                                unsigned precision, qc_error *err, size_t pos);

typedef struct {
    const char *name;
    size_t min_args, max_args;   /* max_args == 0: unbounded */
    builtin_fn fn;
    const char *help;
} builtin;

const builtin *builtin_find(const char *name, size_t len);
const builtin *builtin_table(size_t *count);

/* Shared with the evaluator for the postfix '!' operator. */
qc_status builtin_factorial(rat_t *out, const rat_t *n, qc_error *err, size_t pos);
/* Deterministic for n < 3.3e24; a strong probable-prime test beyond. */
int bi_is_probable_prime(const bi_t *n);

#endif
