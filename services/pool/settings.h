/* The pool's settings as a struct: one field per row of settings.def, named as the setting.
 * Read them from a snapshot: NP_SETTINGS_OF(snap, pool)->NAME (np/config.h). */
#ifndef POOL_SETTINGS_H
#define POOL_SETTINGS_H

#include "np/config.h"

typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "settings.def"
#undef NP_SETTING
} pool_settings;

extern const np_cfg_spec pool_config[];
extern const np_cfg_table pool_settings_table;

#endif
