/* The gateway's settings as a struct: one field per row of settings.def, named as the setting.
 * Read them from a snapshot: NP_SETTINGS_OF(snap, gw)->NAME (np/config.h). */
#ifndef GW_SETTINGS_H
#define GW_SETTINGS_H

#include "np/config.h"

typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "settings.def"
#undef NP_SETTING
} gw_settings;

extern const np_cfg_spec gw_config[];
extern const np_cfg_table gw_settings_table;

#endif
