/* Health's settings as a struct: one field per row of settings.def, named as the setting.
 * Read them from a snapshot: NP_SETTINGS_OF(snap, health)->NAME (np/config.h). */
#ifndef HEALTH_SETTINGS_H
#define HEALTH_SETTINGS_H

#include "np/config.h"

typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "settings.def"
#undef NP_SETTING
} health_settings;

extern const np_cfg_spec health_config[];
extern const np_cfg_table health_settings_table;

#endif
