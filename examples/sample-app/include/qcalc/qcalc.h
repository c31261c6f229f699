/* qcalc: an exact rational calculator library. */
#ifndef QCALC_QCALC_H
#define QCALC_QCALC_H

#include <stddef.h>

#include "qcalc/bigint.h"
#include "qcalc/rational.h"

#define QCALC_VERSION "1.2.0"

typedef enum {
    QC_OK = 0,
    QC_ESYNTAX,   /* malformed input */
    QC_EUNDEF,    /* unknown variable or function */
    QC_EDIVZERO,  /* division by zero */
    QC_EDOMAIN,   /* argument outside a function's domain */
    QC_EARGS,     /* wrong number of arguments */
    QC_ERANGE     /* result would be unreasonably large */
} qc_status;

typedef struct {
    qc_status code;
    size_t pos;      /* 0-based byte offset in the input */
    char msg[160];
} qc_error;

typedef enum {
    QC_FMT_AUTO,     /* exact decimal if short, else fraction with an approximation */
    QC_FMT_DECIMAL,  /* decimal rounded to the precision */
    QC_FMT_FRACTION  /* n/d */
} qc_format;

typedef struct qc_ctx qc_ctx;

qc_ctx *qc_new(void);
void qc_free(qc_ctx *ctx);
void qc_set_precision(qc_ctx *ctx, unsigned digits);
void qc_set_format(qc_ctx *ctx, qc_format fmt);

/* Evaluates one statement ("expr" or "name = expr"). On success stores the
 * value in *out (which must be initialized) and in the variable `ans`. */
qc_status qc_eval(qc_ctx *ctx, const char *src, rat_t *out, qc_error *err);
/* Evaluates and formats; returns a malloc'ed string or NULL on error. */
char *qc_eval_str(qc_ctx *ctx, const char *src, qc_error *err);
char *qc_format_value(const qc_ctx *ctx, const rat_t *v);
/* Parses and prints the fully parenthesized syntax tree (for debugging). */
char *qc_parse_tree(const char *src, qc_error *err);

const char *qc_status_name(qc_status s);
void qc_set_error(qc_error *err, qc_status code, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
