/* The public API: a context holding variables and output settings. */
#include "qcalc/qcalc.h"
#include "env.h"
#include "eval.h"
#include "syntax.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qc_ctx {
    env vars;
    unsigned precision;
    qc_format format;
};

qc_ctx *qc_new(void)
{
    qc_ctx *ctx = xcalloc(1, sizeof *ctx);
    env_init(&ctx->vars);
    ctx->precision = 20;
    ctx->format = QC_FMT_AUTO;
    return ctx;
}

void qc_free(qc_ctx *ctx)
{
    if (!ctx)
        return;
    env_free(&ctx->vars);
    free(ctx);
}

void qc_set_precision(qc_ctx *ctx, unsigned digits) { ctx->precision = digits; }
void qc_set_format(qc_ctx *ctx, qc_format fmt) { ctx->format = fmt; }

qc_status qc_eval(qc_ctx *ctx, const char *src, rat_t *out, qc_error *err)
{
    arena ar;
    arena_init(&ar);
    err->code = QC_OK;
    err->pos = 0;
    err->msg[0] = 0;
    node *tree = parse_statement(&ar, src, err);
    qc_status st = err->code ? err->code : QC_ESYNTAX;
    if (tree) {
        eval_ctx ec = {&ctx->vars, ctx->precision, err, 0};
        st = eval_node(&ec, tree, out);
        if (!st)
            env_set(&ctx->vars, "ans", 3, out);
    }
    arena_free(&ar);
    return st;
}

char *qc_format_value(const qc_ctx *ctx, const rat_t *v)
{
    if (rat_is_int(v))
        return bi_to_str(&v->num, 10);
    if (ctx->format == QC_FMT_FRACTION)
        return rat_to_fraction(v);
    int exact;
    char *dec = rat_to_decimal(v, ctx->precision, &exact);
    if (ctx->format == QC_FMT_DECIMAL || exact)
        return dec;
    char *frac = rat_to_fraction(v);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s ~ %s", frac, dec);
    free(frac);
    free(dec);
    return sb_take(&sb);
}

char *qc_eval_str(qc_ctx *ctx, const char *src, qc_error *err)
{
    rat_t v;
    rat_init(&v);
    char *s = NULL;
    if (qc_eval(ctx, src, &v, err) == QC_OK)
        s = qc_format_value(ctx, &v);
    rat_free(&v);
    return s;
}

char *qc_parse_tree(const char *src, qc_error *err)
{
    arena ar;
    arena_init(&ar);
    err->code = QC_OK;
    node *tree = parse_statement(&ar, src, err);
    char *s = NULL;
    if (tree) {
        strbuf sb;
        sb_init(&sb);
        ast_render(tree, &sb);
        s = sb_take(&sb);
    }
    arena_free(&ar);
    return s;
}

const char *qc_status_name(qc_status s)
{
    switch (s) {
    case QC_OK: return "ok";
    case QC_ESYNTAX: return "syntax error";
    case QC_EUNDEF: return "undefined name";
    case QC_EDIVZERO: return "division by zero";
    case QC_EDOMAIN: return "domain error";
    case QC_EARGS: return "wrong number of arguments";
    case QC_ERANGE: return "out of range";
    }
    return "unknown error";
}

void qc_set_error(qc_error *err, qc_status code, size_t pos, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}
