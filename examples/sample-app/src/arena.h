/* Bump allocator for syntax trees: one free releases a whole parse. */
#ifndef QCALC_ARENA_H
#define QCALC_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct {
    arena_block *head;
} arena;

void arena_init(arena *a);
void *arena_alloc(arena *a, size_t n);
void arena_free(arena *a);

#endif
