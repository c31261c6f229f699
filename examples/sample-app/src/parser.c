/* Pratt parser: statement := IDENT '=' expr | expr
 *
 *   precedence (low to high): comparisons, + -, * / %, unary -, ^ (right), postfix !
 *   so -2^2 = -4 and 2^-1 = 1/2.
 */
#include "syntax.h"

typedef struct {
    lexer lx;
    token cur;
    arena *ar;
    qc_error *err;
    int failed;
} parser;

enum { P_NONE, P_CMP, P_ADD, P_MUL, P_UNARY, P_POW, P_POSTFIX };

static void advance(parser *p) { p->cur = lex_next(&p->lx); }

static void fail_at(parser *p, const token *t, const char *what)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (t->kind == T_ERROR)
        qc_set_error(p->err, QC_ESYNTAX, t->pos, "unexpected character '%c'", t->start[0]);
    else if (t->kind == T_EOF)
        qc_set_error(p->err, QC_ESYNTAX, t->pos, "%s, found end of input", what);
    else
        qc_set_error(p->err, QC_ESYNTAX, t->pos, "%s, found '%.*s'", what,
                     (int)t->len, t->start);
}

static node *new_node(parser *p, node_kind k, size_t pos)
{
    node *n = arena_alloc(p->ar, sizeof *n);
    n->kind = k;
    n->pos = pos;
    return n;
}

static int infix_prec(tok_kind k)
{
    switch (k) {
    case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE: return P_CMP;
    case T_PLUS: case T_MINUS: return P_ADD;
    case T_STAR: case T_SLASH: case T_PERCENT: return P_MUL;
    case T_CARET: return P_POW;
    case T_BANG: return P_POSTFIX;
    default: return P_NONE;
    }
}

static node *parse_expr(parser *p, int min_prec);

static node *parse_call(parser *p, token name)
{
    node *n = new_node(p, N_CALL, name.pos);
    n->text = name.start;
    n->text_len = name.len;
    advance(p); /* ( */
    node *items[64];
    size_t count = 0;
    if (p->cur.kind != T_RPAREN) {
        for (;;) {
            node *arg = parse_expr(p, P_CMP);
            if (!arg)
                return NULL;
            if (count == sizeof items / sizeof items[0]) {
                fail_at(p, &p->cur, "too many arguments");
                return NULL;
            }
            items[count++] = arg;
            if (p->cur.kind != T_COMMA)
                break;
            advance(p);
        }
    }
    if (p->cur.kind != T_RPAREN) {
        fail_at(p, &p->cur, "expected ',' or ')' in argument list");
        return NULL;
    }
    advance(p);
    n->nargs = count;
    n->args = arena_alloc(p->ar, (count ? count : 1) * sizeof *n->args);
    for (size_t i = 0; i < count; i++)
        n->args[i] = items[i];
    return n;
}

static node *parse_prefix(parser *p)
{
    token t = p->cur;
    switch (t.kind) {
    case T_NUM: {
        node *n = new_node(p, N_NUM, t.pos);
        n->text = t.start;
        n->text_len = t.len;
        advance(p);
        return n;
    }
    case T_IDENT:
        advance(p);
        if (p->cur.kind == T_LPAREN)
            return parse_call(p, t);
        else {
            node *n = new_node(p, N_VAR, t.pos);
            n->text = t.start;
            n->text_len = t.len;
            return n;
        }
    case T_MINUS:
    case T_PLUS: {
        advance(p);
        node *operand = parse_expr(p, P_UNARY);
        if (!operand)
            return NULL;
        if (t.kind == T_PLUS)
            return operand;
        node *n = new_node(p, N_NEG, t.pos);
        n->a = operand;
        return n;
    }
    case T_LPAREN: {
        advance(p);
        node *inner = parse_expr(p, P_CMP);
        if (!inner)
            return NULL;
        if (p->cur.kind != T_RPAREN) {
            fail_at(p, &p->cur, "expected ')'");
            return NULL;
        }
        advance(p);
        return inner;
    }
    default:
        fail_at(p, &t, "expected a number, name or '('");
        return NULL;
    }
}

static node *parse_expr(parser *p, int min_prec)
{
    node *left = parse_prefix(p);
    while (left) {
        token op = p->cur;
        int prec = infix_prec(op.kind);
        if (prec == P_NONE || prec < min_prec)
            break;
        advance(p);
        if (op.kind == T_BANG) {
            node *n = new_node(p, N_FACT, op.pos);
            n->a = left;
            left = n;
            continue;
        }
        /* ^ is right-associative and binds its right side like a unary operand */
        int next = op.kind == T_CARET ? P_UNARY : prec + 1;
        if (op.kind != T_CARET && prec == P_CMP)
            next = P_ADD; /* comparisons do not chain */
        node *right = parse_expr(p, next);
        if (!right)
            return NULL;
        node *n = new_node(p, N_BINARY, op.pos);
        n->op = op.kind;
        n->a = left;
        n->b = right;
        left = n;
        if (prec == P_CMP && infix_prec(p->cur.kind) == P_CMP) {
            fail_at(p, &p->cur, "comparisons cannot be chained");
            return NULL;
        }
    }
    return p->failed ? NULL : left;
}

node *parse_statement(arena *ar, const char *src, qc_error *err)
{
    parser p = {.ar = ar, .err = err};
    lex_init(&p.lx, src);
    advance(&p);
    if (p.cur.kind == T_EOF) {
        fail_at(&p, &p.cur, "expected an expression");
        return NULL;
    }
    node *result;
    lexer save = p.lx;
    token first = p.cur;
    advance(&p);
    if (first.kind == T_IDENT && p.cur.kind == T_ASSIGN) {
        advance(&p);
        node *value = parse_expr(&p, P_CMP);
        if (!value)
            return NULL;
        result = new_node(&p, N_ASSIGN, first.pos);
        result->text = first.start;
        result->text_len = first.len;
        result->a = value;
    } else {
        p.lx = save;
        p.cur = first;
        result = parse_expr(&p, P_CMP);
        if (!result)
            return NULL;
    }
    if (p.cur.kind != T_EOF) {
        fail_at(&p, &p.cur, "expected an operator or end of input");
        return NULL;
    }
    return result;
}
