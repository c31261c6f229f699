#include "env.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void env_init(env *e)
{
    e->slots = NULL;
    e->cap = e->count = 0;
}

void env_free(env *e)
{
    for (size_t i = 0; i < e->cap; i++) {
        if (e->slots[i].name) {
            free(e->slots[i].name);
            rat_free(&e->slots[i].value);
        }
    }
    free(e->slots);
    env_init(e);
}

static env_slot *find(const env *e, const char *name, size_t len)
{
    if (!e->cap)
        return NULL;
    size_t mask = e->cap - 1;
    for (size_t i = fnv1a(name, len) & mask;; i = (i + 1) & mask) {
        env_slot *s = &e->slots[i];
        if (!s->name || (strlen(s->name) == len && memcmp(s->name, name, len) == 0))
            return s;
    }
}

static void grow(env *e)
{
    env old = *e;
    e->cap = old.cap ? old.cap * 2 : 16;
    e->slots = xcalloc(e->cap, sizeof *e->slots);
    e->count = 0;
    for (size_t i = 0; i < old.cap; i++) {
        env_slot *s = &old.slots[i];
        if (s->name) {
            env_slot *d = find(e, s->name, strlen(s->name));
            *d = *s;
            e->count++;
        }
    }
    free(old.slots);
}

const rat_t *env_get(const env *e, const char *name, size_t len)
{
    env_slot *s = find(e, name, len);
    return s && s->name ? &s->value : NULL;
}

void env_set(env *e, const char *name, size_t len, const rat_t *value)
{
    if ((e->count + 1) * 4 > e->cap * 3)
        grow(e);
    env_slot *s = find(e, name, len);
    if (!s->name) {
        s->name = xstrndup(name, len);
        rat_init(&s->value);
        e->count++;
    }
    rat_copy(&s->value, value);
}
