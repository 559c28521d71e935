/* Auth's settings as a struct: one field per row of settings.def, named as the setting.
 * Read them from a snapshot: NP_SETTINGS_OF(snap, auth)->NAME (np/config.h). */
#ifndef AUTH_SETTINGS_H
#define AUTH_SETTINGS_H

#include "np/config.h"

typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "settings.def"
#undef NP_SETTING
} auth_settings;

extern const np_cfg_spec auth_config[];
extern const np_cfg_table auth_settings_table;

#endif
