/* The instance list of GET /admin/nodes. */
#include "nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* SQL pasted from macros, which clang-format cannot lay out (it moves the pieces on every run). */
/* clang-format off */
/* The health leader holds the advisory lock (leader.c); its session's name carries its node. */
static const char LEADER_SQL[] =
    "SELECT substr(a.application_name, length('" HEALTH_LEADER_APP "') + 1), "
    ISO("a.backend_start")
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.classid = " STR(HEALTH_LOCK_CLASS)
    " AND l.objid = " STR(HEALTH_LOCK_OBJ) " AND l.objsubid = 2 AND l.granted"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

static const char NODES_SQL[] =
    "SELECT service, node, instance, version, " ISO("started_at") ", " ISO("last_seen")
    ", last_seen > now() - make_interval(secs => $1::int) FROM nodes ORDER BY service, node";
/* clang-format on */

np_err
health_nodes_list(np_db *db, const np_config *cfg, json_t **out)
{
    PGconn *c = np_db_acquire(db, 5000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    PGresult *lr = NULL, *nr = NULL;
    json_t *leader = json_null(), *nodes = json_array();
    char alive[24];
    snprintf(alive, sizeof(alive), "%lld",
             (long long)NP_SETTING_NOW(cfg, np_common, NODE_HEARTBEAT_SECONDS) * 3);
    np_err err = np_db_exec(c, LEADER_SQL, 0, NULL, &lr);
    if (err == NP_ERR_OK && PQntuples(lr) >= 1) {
        json_decref(leader);
        leader =
            json_pack("{s:s, s:s}", "node", PQgetvalue(lr, 0, 0), "since", PQgetvalue(lr, 0, 1));
    }
    const char *params[] = {alive};
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, NODES_SQL, 1, params, &nr);
    }
    const char *leader_node =
        json_is_object(leader) ? json_string_value(json_object_get(leader, "node")) : NULL;
    for (int i = 0; err == NP_ERR_OK && i < PQntuples(nr); i++) {
        bool is_leader = leader_node != NULL && strcmp(PQgetvalue(nr, i, 0), "health") == 0 &&
                         strcmp(PQgetvalue(nr, i, 1), leader_node) == 0;
        json_array_append_new(
            nodes, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "service",
                             PQgetvalue(nr, i, 0), "node_id", PQgetvalue(nr, i, 1), "instance",
                             PQgetvalue(nr, i, 2), "version", PQgetvalue(nr, i, 3), "started_at",
                             PQgetvalue(nr, i, 4), "last_seen", PQgetvalue(nr, i, 5), "alive",
                             strcmp(PQgetvalue(nr, i, 6), "t") == 0, "leader", is_leader));
    }
    PQclear(lr);
    PQclear(nr);
    np_db_release(db, c);
    if (err != NP_ERR_OK) {
        json_decref(leader);
        json_decref(nodes);
        return err;
    }
    *out = json_pack("{s:o, s:o}", "leader", leader, "nodes", nodes);
    return *out != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
}
