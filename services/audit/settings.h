/* Audit's settings as a struct: one field per row of settings.def, named as the setting.
 * Read them from a snapshot: NP_SETTINGS_OF(snap, audit)->NAME (np/config.h). */
#ifndef AUDIT_SETTINGS_H
#define AUDIT_SETTINGS_H

#include "np/config.h"

typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "settings.def"
#undef NP_SETTING
} audit_settings;

extern const np_cfg_spec audit_config[];
extern const np_cfg_table audit_settings_table;

#endif
