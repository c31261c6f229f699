/* Growable strings. */
#ifndef QCALC_STRBUF_H
#define QCALC_STRBUF_H

#include <stddef.h>

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);
void sb_putc(strbuf *sb, char c);
void sb_putn(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sb_printf(strbuf *sb, const char *fmt, ...);
/* Returns the malloc'ed string and leaves sb empty. */
char *sb_take(strbuf *sb);

#endif
