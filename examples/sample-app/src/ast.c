/* Renders syntax trees, fully parenthesized, for --tree and the tests. */
#include "syntax.h"

void ast_render(const node *n, strbuf *sb)
{
    switch (n->kind) {
    case N_NUM:
    case N_VAR:
        sb_putn(sb, n->text, n->text_len);
        break;
    case N_NEG:
        sb_puts(sb, "(-");
        ast_render(n->a, sb);
        sb_putc(sb, ')');
        break;
    case N_FACT:
        sb_putc(sb, '(');
        ast_render(n->a, sb);
        sb_puts(sb, "!)");
        break;
    case N_BINARY:
        sb_putc(sb, '(');
        ast_render(n->a, sb);
        sb_printf(sb, " %s ", tok_name(n->op));
        ast_render(n->b, sb);
        sb_putc(sb, ')');
        break;
    case N_CALL:
        sb_putn(sb, n->text, n->text_len);
        sb_putc(sb, '(');
        for (size_t i = 0; i < n->nargs; i++) {
            if (i)
                sb_puts(sb, ", ");
            ast_render(n->args[i], sb);
        }
        sb_putc(sb, ')');
        break;
    case N_ASSIGN:
        sb_putn(sb, n->text, n->text_len);
        sb_puts(sb, " = ");
        ast_render(n->a, sb);
        break;
    }
}
