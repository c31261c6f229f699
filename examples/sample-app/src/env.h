/* Variables: an open-addressing hash map from names to rationals. */
#ifndef QCALC_ENV_H
#define QCALC_ENV_H

#include <stddef.h>

#include "qcalc/rational.h"

typedef struct {
    char *name;
    rat_t value;
} env_slot;

typedef struct {
    env_slot *slots;
    size_t cap, count;
} env;

void env_init(env *e);
void env_free(env *e);
/* Returns the stored value or NULL. */
const rat_t *env_get(const env *e, const char *name, size_t len);
void env_set(env *e, const char *name, size_t len, const rat_t *value);

#endif
