/* Turns a statement into tokens. */
#include "syntax.h"

#include <ctype.h>

void lex_init(lexer *lx, const char *src)
{
    lx->src = src;
    lx->pos = 0;
}

static token make(lexer *lx, tok_kind k, size_t start)
{
    token t = {k, lx->src + start, lx->pos - start, start};
    return t;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident_char(int c) { return isalnum(c) || c == '_'; }

static token lex_number(lexer *lx, size_t start)
{
    const char *s = lx->src;
    if (s[lx->pos] == '0' && (s[lx->pos + 1] == 'x' || s[lx->pos + 1] == 'X' ||
                              s[lx->pos + 1] == 'b' || s[lx->pos + 1] == 'B')) {
        lx->pos += 2;
        while (isxdigit((unsigned char)s[lx->pos]) || s[lx->pos] == '_')
            lx->pos++;
        return make(lx, T_NUM, start);
    }
    while (isdigit((unsigned char)s[lx->pos]) || s[lx->pos] == '_')
        lx->pos++;
    if (s[lx->pos] == '.') {
        lx->pos++;
        while (isdigit((unsigned char)s[lx->pos]))
            lx->pos++;
    }
    if (s[lx->pos] == 'e' || s[lx->pos] == 'E') {
        size_t save = lx->pos++;
        if (s[lx->pos] == '+' || s[lx->pos] == '-')
            lx->pos++;
        if (!isdigit((unsigned char)s[lx->pos]))
            lx->pos = save; /* "2e" is 2 followed by the identifier e */
        while (isdigit((unsigned char)s[lx->pos]))
            lx->pos++;
    }
    return make(lx, T_NUM, start);
}

token lex_next(lexer *lx)
{
    const char *s = lx->src;
    while (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\r' || s[lx->pos] == '\n')
        lx->pos++;
    size_t start = lx->pos;
    unsigned char c = (unsigned char)s[lx->pos];
    if (c == 0 || c == '#')
        return make(lx, T_EOF, start);
    if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[lx->pos + 1])))
        return lex_number(lx, start);
    if (is_ident_start(c)) {
        while (is_ident_char((unsigned char)s[lx->pos]))
            lx->pos++;
        return make(lx, T_IDENT, start);
    }
    lx->pos++;
    char n = s[lx->pos];
    switch (c) {
    case '+': return make(lx, T_PLUS, start);
    case '-': return make(lx, T_MINUS, start);
    case '*':
        if (n == '*') {
            lx->pos++;
            return make(lx, T_CARET, start);
        }
        return make(lx, T_STAR, start);
    case '/': return make(lx, T_SLASH, start);
    case '%': return make(lx, T_PERCENT, start);
    case '^': return make(lx, T_CARET, start);
    case '(': return make(lx, T_LPAREN, start);
    case ')': return make(lx, T_RPAREN, start);
    case ',': return make(lx, T_COMMA, start);
    case '!':
        if (n == '=') {
            lx->pos++;
            return make(lx, T_NE, start);
        }
        return make(lx, T_BANG, start);
    case '=':
        if (n == '=') {
            lx->pos++;
            return make(lx, T_EQ, start);
        }
        return make(lx, T_ASSIGN, start);
    case '<':
        if (n == '=') {
            lx->pos++;
            return make(lx, T_LE, start);
        }
        return make(lx, T_LT, start);
    case '>':
        if (n == '=') {
            lx->pos++;
            return make(lx, T_GE, start);
        }
        return make(lx, T_GT, start);
    default:
        return make(lx, T_ERROR, start);
    }
}

const char *tok_name(tok_kind k)
{
    static const char *const names[] = {
        "end of input", "number", "identifier",
        "+", "-", "*", "/", "%", "^", "!",
        "(", ")", ",", "=",
        "==", "!=", "<", "<=", ">", ">=",
        "invalid character",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
