/* Tree-walking evaluator over exact rationals. */
#include "eval.h"
#include "builtins.h"

#include <stdlib.h>

/* 2^MAX_POW_BITS is the largest power we agree to build. */
#define MAX_POW_BITS 4000000
#define MAX_DEPTH 2000

static qc_status eval_pow(eval_ctx *ec, const node *n, rat_t *out, const rat_t *a, const rat_t *b)
{
    if (!rat_is_int(b)) {
        qc_set_error(ec->err, QC_EDOMAIN, n->pos, "exponent must be an integer");
        return QC_EDOMAIN;
    }
    int64_t e;
    if (!bi_to_i64(&b->num, &e) || e > INT32_MAX || e < -INT32_MAX) {
        qc_set_error(ec->err, QC_ERANGE, n->pos, "exponent is too large");
        return QC_ERANGE;
    }
    /* Estimate the size of the result before computing it. */
    size_t bits = bi_bit_length(&a->num) > bi_bit_length(&a->den) ? bi_bit_length(&a->num)
                                                                   : bi_bit_length(&a->den);
    uint64_t mag = (uint64_t)(e < 0 ? -e : e);
    int trivial = bits <= 1; /* 0, 1, -1, 1/1 stay small */
    if (!trivial && mag > 0 && (uint64_t)bits * mag > MAX_POW_BITS) {
        qc_set_error(ec->err, QC_ERANGE, n->pos, "result of ^ would have more than %d bits",
                     MAX_POW_BITS);
        return QC_ERANGE;
    }
    if (rat_pow_i(out, a, (long)e) != 0) {
        qc_set_error(ec->err, QC_EDIVZERO, n->pos, "zero to a negative power");
        return QC_EDIVZERO;
    }
    return QC_OK;
}

static qc_status eval_binary(eval_ctx *ec, const node *n, rat_t *out)
{
    rat_t a, b;
    rat_init(&a);
    rat_init(&b);
    qc_status st = eval_node(ec, n->a, &a);
    if (!st)
        st = eval_node(ec, n->b, &b);
    if (!st) {
        switch (n->op) {
        case T_PLUS: rat_add(out, &a, &b); break;
        case T_MINUS: rat_sub(out, &a, &b); break;
        case T_STAR: rat_mul(out, &a, &b); break;
        case T_SLASH:
            if (rat_div(out, &a, &b) != 0) {
                qc_set_error(ec->err, QC_EDIVZERO, n->pos, "division by zero");
                st = QC_EDIVZERO;
            }
            break;
        case T_PERCENT:
            if (rat_mod(out, &a, &b) != 0) {
                qc_set_error(ec->err, QC_EDIVZERO, n->pos, "modulo by zero");
                st = QC_EDIVZERO;
            }
            break;
        case T_CARET: st = eval_pow(ec, n, out, &a, &b); break;
        case T_EQ: rat_set_i64(out, rat_cmp(&a, &b) == 0); break;
        case T_NE: rat_set_i64(out, rat_cmp(&a, &b) != 0); break;
        case T_LT: rat_set_i64(out, rat_cmp(&a, &b) < 0); break;
        case T_LE: rat_set_i64(out, rat_cmp(&a, &b) <= 0); break;
        case T_GT: rat_set_i64(out, rat_cmp(&a, &b) > 0); break;
        case T_GE: rat_set_i64(out, rat_cmp(&a, &b) >= 0); break;
        default:
            qc_set_error(ec->err, QC_ESYNTAX, n->pos, "unknown operator");
            st = QC_ESYNTAX;
        }
    }
    rat_free(&a);
    rat_free(&b);
    return st;
}

static qc_status eval_call(eval_ctx *ec, const node *n, rat_t *out)
{
    const builtin *fn = builtin_find(n->text, n->text_len);
    if (!fn) {
        qc_set_error(ec->err, QC_EUNDEF, n->pos, "unknown function '%.*s'",
                     (int)n->text_len, n->text);
        return QC_EUNDEF;
    }
    if (n->nargs < fn->min_args || (fn->max_args && n->nargs > fn->max_args)) {
        if (fn->min_args == fn->max_args)
            qc_set_error(ec->err, QC_EARGS, n->pos, "%s() takes %zu argument%s, got %zu",
                         fn->name, fn->min_args, fn->min_args == 1 ? "" : "s", n->nargs);
        else
            qc_set_error(ec->err, QC_EARGS, n->pos, "%s() takes at least %zu argument%s",
                         fn->name, fn->min_args, fn->min_args == 1 ? "" : "s");
        return QC_EARGS;
    }
    rat_t *args = calloc(n->nargs ? n->nargs : 1, sizeof *args);
    qc_status st = QC_OK;
    size_t done = 0;
    for (; done < n->nargs && !st; done++) {
        rat_init(&args[done]);
        st = eval_node(ec, n->args[done], &args[done]);
    }
    if (!st)
        st = fn->fn(out, args, n->nargs, ec->precision, ec->err, n->pos);
    for (size_t i = 0; i < done; i++)
        rat_free(&args[i]);
    free(args);
    return st;
}

qc_status eval_node(eval_ctx *ec, const node *n, rat_t *out)
{
    qc_status st = QC_OK;
    if (++ec->depth > MAX_DEPTH) {
        qc_set_error(ec->err, QC_ERANGE, n->pos, "expression is nested too deeply");
        ec->depth--;
        return QC_ERANGE;
    }
    switch (n->kind) {
    case N_NUM: {
        int rc = rat_parse(out, n->text, n->text_len);
        if (rc == -2) {
            qc_set_error(ec->err, QC_ERANGE, n->pos, "exponent of '%.*s' is too large",
                         (int)n->text_len, n->text);
            st = QC_ERANGE;
        } else if (rc != 0) {
            qc_set_error(ec->err, QC_ESYNTAX, n->pos, "malformed number '%.*s'",
                         (int)n->text_len, n->text);
            st = QC_ESYNTAX;
        }
        break;
    }
    case N_VAR: {
        const rat_t *v = env_get(ec->vars, n->text, n->text_len);
        if (!v) {
            qc_set_error(ec->err, QC_EUNDEF, n->pos, "unknown variable '%.*s'",
                         (int)n->text_len, n->text);
            st = QC_EUNDEF;
        } else {
            rat_copy(out, v);
        }
        break;
    }
    case N_NEG:
        st = eval_node(ec, n->a, out);
        if (!st)
            rat_neg(out, out);
        break;
    case N_FACT:
        st = eval_node(ec, n->a, out);
        if (!st)
            st = builtin_factorial(out, out, ec->err, n->pos);
        break;
    case N_BINARY:
        st = eval_binary(ec, n, out);
        break;
    case N_CALL:
        st = eval_call(ec, n, out);
        break;
    case N_ASSIGN:
        if (builtin_find(n->text, n->text_len)) {
            qc_set_error(ec->err, QC_ESYNTAX, n->pos, "'%.*s' is a function name",
                         (int)n->text_len, n->text);
            st = QC_ESYNTAX;
            break;
        }
        st = eval_node(ec, n->a, out);
        if (!st)
            env_set(ec->vars, n->text, n->text_len, out);
        break;
    }
    ec->depth--;
    return st;
}
