/* Tokens and syntax trees. */
#ifndef QCALC_SYNTAX_H
#define QCALC_SYNTAX_H

#include <stddef.h>

#include "arena.h"
#include "strbuf.h"
#include "qcalc/qcalc.h"

typedef enum {
    T_EOF, T_NUM, T_IDENT,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_CARET, T_BANG,
    T_LPAREN, T_RPAREN, T_COMMA, T_ASSIGN,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_ERROR
} tok_kind;

typedef struct {
    tok_kind kind;
    const char *start;
    size_t len;
    size_t pos;
} token;

typedef struct {
    const char *src;
    size_t pos;
} lexer;

void lex_init(lexer *lx, const char *src);
token lex_next(lexer *lx);
const char *tok_name(tok_kind k);

typedef enum {
    N_NUM, N_VAR, N_NEG, N_FACT, N_BINARY, N_CALL, N_ASSIGN
} node_kind;

typedef struct node node;
struct node {
    node_kind kind;
    size_t pos;
    tok_kind op;            /* N_BINARY */
    const char *text;       /* N_NUM literal, N_VAR / N_CALL / N_ASSIGN name */
    size_t text_len;
    node *a, *b;            /* operands; N_ASSIGN value in a */
    node **args;            /* N_CALL */
    size_t nargs;
};

/* Parses one statement; returns NULL and fills err on failure. */
node *parse_statement(arena *ar, const char *src, qc_error *err);
/* Appends a fully parenthesized rendering of the tree. */
void ast_render(const node *n, strbuf *sb);

#endif
