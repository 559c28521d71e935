/* Answers the pool gives itself, without NovelAI: the model list and the account routes
 * (account.h). Runs on rpc worker threads. */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"

static void
reply_local_json(np_rpc_call *call, json_t *body, const pool_rate_result *rate)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOMEM, NULL);
        return;
    }
    hdrs h = {.n = 0};
    relay_hdr_add(&h, NP_RELAY_RESH_CONTENT_TYPE, "application/json");
    if (rate != NULL) {
        relay_hdr_rate(&h, rate);
    }
    relay_wire_open(call, 200, &h, text, strlen(text), false, 0);
    free(text);
}

/* answer_models: the earlier pool's shape, a JSON list of model ids, unless the query asks
 * for detail=1 (or detail=true): then {"models": [{id, type}]}. */
void
relay_answer_models(pool_relay *rl, np_rpc_call *call, const char *query, size_t qlen)
{
    bool detail = false;
    for (size_t i = 0; i < qlen && !detail; i++) {
        if (i == 0 || query[i - 1] == '&') {
            size_t rest = qlen - i;
            detail = (rest >= 8 && strncmp(query + i, "detail=1", 8) == 0 &&
                      (rest == 8 || query[i + 8] == '&')) ||
                     (rest >= 11 && strncmp(query + i, "detail=true", 11) == 0 &&
                      (rest == 11 || query[i + 11] == '&'));
        }
    }
    char list[2048];
    NP_SETTING_COPY(rl->d.cfg, pool, NOVELAI_MODELS, list, sizeof(list));
    json_t *models = json_array();
    char *save = NULL;
    for (char *t = strtok_r(list, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        json_array_append_new(
            models, detail ? json_pack("{s:s, s:s}", "id", t, "type",
                                       strncmp(t, "nai-diffusion", 13) == 0 ? "image" : "text")
                           : json_string(t));
    }
    reply_local_json(call, detail ? json_pack("{s:o}", "models", models) : models, NULL);
}

/* The account routes (account.h), synthesized without spending the rate; the rate rides in the
 * X-RateLimit headers (and on GET /auth/me), never in NovelAI's bodies. */
void
relay_answer_account(pool_relay *rl, np_rpc_call *call, int64_t uid, const char *path)
{
    PGconn *c = np_db_acquire(rl->d.db, 5000);
    pool_user_limits lim;
    pool_rate_result rate = {0};
    np_err err = c != NULL ? pool_user_limits_cached(rl->limits, c, rl->d.cfg, uid,
                                                     pool_keyring_version(rl->d.keyring), &lim)
                           : NP_ERR_DB;
    if (err == NP_ERR_OK && lim.rpm > 0) {
        err = pool_rate_take(c, uid, lim.rpm, false, &rate);
    }
    np_db_release(rl->d.db, c);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, err, NULL);
        return;
    }
    pool_account_free f = {NP_SETTING_NOW(rl->d.cfg, pool, OPUS_MAX_PIXELS),
                           NP_SETTING_NOW(rl->d.cfg, pool, OPUS_MAX_SAMPLES)};
    reply_local_json(call, pool_account_answer(path, time(NULL), &f), lim.rpm > 0 ? &rate : NULL);
}
