/* qcalc: evaluate exact rational expressions from arguments, files or stdin. */
#include "qcalc/qcalc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to)
{
    fputs("usage: qcalc [-p DIGITS] [-f auto|dec|frac] [-t] [-e EXPR]... [FILE]...\n"
          "Evaluates one statement per line: an expression or NAME = EXPR.\n"
          "Lines that are empty or start with '#' are skipped; `ans` is the last result.\n"
          "  -p DIGITS  decimal places for non-integer results (default 20)\n"
          "  -f FORMAT  auto: exact decimal, or fraction ~ decimal (default)\n"
          "             dec: rounded decimal; frac: n/d\n"
          "  -t         print the parsed syntax tree instead of evaluating\n"
          "  -e EXPR    evaluate EXPR (may be repeated); then files are not read\n"
          "  -V         print the version\n",
          to);
}

typedef struct {
    qc_ctx *ctx;
    int tree;
    int failures;
} run;

static void run_line(run *r, const char *where, unsigned long lineno, const char *line)
{
    qc_error err;
    char *out = r->tree ? qc_parse_tree(line, &err) : qc_eval_str(r->ctx, line, &err);
    if (out) {
        puts(out);
        free(out);
        return;
    }
    r->failures++;
    fflush(stdout);
    if (lineno)
        fprintf(stderr, "qcalc: %s:%lu:%zu: %s\n", where, lineno, err.pos + 1, err.msg);
    else
        fprintf(stderr, "qcalc: %s:%zu: %s\n", where, err.pos + 1, err.msg);
}

static int run_stream(run *r, const char *name, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0 || *p == '#')
            continue;
        run_line(r, name, lineno, line);
    }
    free(line);
    return ferror(in) ? -1 : 0;
}

int main(int argc, char **argv)
{
    run r = {qc_new(), 0, 0};
    const char **exprs = calloc((size_t)argc, sizeof *exprs);
    size_t nexprs = 0;
    int i, status = 2; /* 2: usage or I/O error, 1: some statement failed */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == 0)
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            status = 0;
            goto done;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            puts("qcalc " QCALC_VERSION);
            status = 0;
            goto done;
        } else if (strcmp(a, "-t") == 0) {
            r.tree = 1;
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "-f") == 0 || strcmp(a, "-e") == 0) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (a[1] == 'e') {
                exprs[nexprs++] = v;
            } else if (a[1] == 'p') {
                char *end;
                errno = 0;
                long d = strtol(v, &end, 10);
                if (*end || errno || d < 0 || d > 100000) {
                    fprintf(stderr, "qcalc: bad precision '%s'\n", v);
                    goto done;
                }
                qc_set_precision(r.ctx, (unsigned)d);
            } else if (strcmp(v, "auto") == 0) {
                qc_set_format(r.ctx, QC_FMT_AUTO);
            } else if (strcmp(v, "dec") == 0) {
                qc_set_format(r.ctx, QC_FMT_DECIMAL);
            } else if (strcmp(v, "frac") == 0) {
                qc_set_format(r.ctx, QC_FMT_FRACTION);
            } else {
                fprintf(stderr, "qcalc: bad format '%s'\n", v);
                goto done;
            }
        } else {
            usage(stderr);
            goto done;
        }
    }
    int io_error = 0;
    if (nexprs) {
        for (size_t k = 0; k < nexprs; k++)
            run_line(&r, "-e", 0, exprs[k]);
    } else if (i == argc) {
        io_error |= run_stream(&r, "<stdin>", stdin) != 0;
    } else {
        for (; i < argc; i++) {
            FILE *f = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "r");
            if (!f) {
                fprintf(stderr, "qcalc: %s: %s\n", argv[i], strerror(errno));
                io_error = 1;
                continue;
            }
            io_error |= run_stream(&r, argv[i], f) != 0;
            if (f != stdin)
                fclose(f);
        }
    }
    status = io_error ? 2 : r.failures ? 1 : 0;
done:
    free(exprs);
    qc_free(r.ctx);
    return status;
}
