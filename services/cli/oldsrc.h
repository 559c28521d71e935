/* The earlier Python pool's database, read-only, for naipool import: a SQLite file (its
 * default, through libsqlite3) or a Postgres URL. Rows come back as text, NULL for SQL NULL,
 * whichever the engine, so the importer reads both alike. */
#ifndef CLI_OLDSRC_H
#define CLI_OLDSRC_H

#include <stdbool.h>
#include <stddef.h>

#include "np/errors.h"

typedef struct cli_oldsrc cli_oldsrc;

/* cli_oldsrc_open opens what url names: "sqlite:///path", "sqlite+aiosqlite:///./rel/path",
 * a plain file path (SQLite), or "postgresql[+driver]://..." / "postgres://...". NP_ERR_INVALID
 * or NP_ERR_DB with a reason in why. */
np_err cli_oldsrc_open(cli_oldsrc **out, const char *url, char *why, size_t whylen);
void cli_oldsrc_close(cli_oldsrc *s);

/* cli_oldsrc_has_table: the database has a table of that name. */
bool cli_oldsrc_has_table(cli_oldsrc *s, const char *table);

/* cli_oldsrc_each runs sql (no parameters; portable SQL) and calls fn for each row with its
 * n column values as text (NULL for SQL NULL). fn returning an error stops the walk and is
 * returned. NP_ERR_DB with a reason in why when the query fails. */
typedef np_err (*cli_oldsrc_row_fn)(void *arg, const char *const *cols, int n);
np_err cli_oldsrc_each(cli_oldsrc *s, const char *sql, cli_oldsrc_row_fn fn, void *arg, char *why,
                       size_t whylen);

/* cli_oldsrc_sqlite_path: the file path of a SQLite URL or path, written into out; false when
 * url is a Postgres URL. Exposed for tests and for the start-up refusal of SQLite URLs. */
bool cli_oldsrc_sqlite_path(const char *url, char *out, size_t outlen);

#endif
