/* Evaluates syntax trees. */
#ifndef QCALC_EVAL_H
#define QCALC_EVAL_H

#include "env.h"
#include "syntax.h"

typedef struct {
    env *vars;
    unsigned precision;
    qc_error *err;
    unsigned depth;
} eval_ctx;

qc_status eval_node(eval_ctx *ec, const node *n, rat_t *out);

#endif
