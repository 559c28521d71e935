/* NovelAI's account routes, synthesized by the pool (account.h). */
#include "account.h"

#include <string.h>

/* Opus, as its perks read in NovelAI's live answers. */
#define OPUS_TIER 3
#define PRIORITY_ACTIONS 1000
#define START_PRIORITY 10
#define CONTEXT_TOKENS 8192
#define MODULE_TRAINING_STEPS 10000
#define EXPIRES_IN_S (30 * 86400)
#define PRIORITY_REFILL_S 3600

static json_t *
subscription(time_t now, const pool_account_free *f)
{
    json_t *limits = json_pack("[{s:I, s:I}]", "resolution", (json_int_t)f->pixels, "maxPrompts",
                               (json_int_t)f->samples);
    return json_pack("{s:i, s:b, s:I, s:s, s:i, s:b, s:b,"
                     " s:{s:i, s:i, s:i, s:b, s:i, s:b, s:o},"
                     " s:{s:i, s:i},"
                     " s:{s:i, s:b, s:i}}",
                     "tier", OPUS_TIER, "active", 1, "expiresAt", (json_int_t)(now + EXPIRES_IN_S),
                     "paymentProcessor", "", "accountType", 0, "isGracePeriod", 0, "isPaypal", 0,
                     "perks", "maxPriorityActions", PRIORITY_ACTIONS, "startPriority",
                     START_PRIORITY, "contextTokens", CONTEXT_TOKENS, "unlimitedMaxPriority", 1,
                     "moduleTrainingSteps", MODULE_TRAINING_STEPS, "unlimitedImageGeneration", 1,
                     "unlimitedImageGenerationLimits", limits, "trainingStepsLeft",
                     "fixedTrainingStepsLeft", 0, "purchasedTrainingSteps", 0, "usage", "percent",
                     0, "isNegative", 0, "timeUntilNextPercent", 0);
}

static json_t *
priority(time_t now)
{
    return json_pack("{s:i, s:I, s:i}", "maxPriorityActions", PRIORITY_ACTIONS, "nextRefillAt",
                     (json_int_t)(now + PRIORITY_REFILL_S), "taskPriority", START_PRIORITY);
}

static json_t *
information(void)
{
    return json_pack("{s:b, s:b, s:b, s:i, s:i, s:i}", "emailVerified", 1,
                     "emailVerificationLetterSent", 1, "trialActivated", 1, "trialActionsLeft", 0,
                     "trialImagesLeft", 0, "accountCreatedAt", 0);
}

json_t *
pool_account_answer(const char *path, time_t now, const pool_account_free *free_lim)
{
    if (strcmp(path, "/user/subscription") == 0) {
        return subscription(now, free_lim);
    }
    if (strcmp(path, "/user/priority") == 0) {
        return priority(now);
    }
    if (strcmp(path, "/user/information") == 0) {
        return information();
    }
    if (strcmp(path, "/user/data") == 0) {
        /* No keystore and no settings: the pool holds no one's stories or preferences. */
        return json_pack("{s:o, s:o, s:{s:n, s:i}, s:s, s:o}", "priority", priority(now),
                         "subscription", subscription(now, free_lim), "keystore", "keystore",
                         "changeIndex", 0, "settings", "{}", "information", information());
    }
    return NULL;
}
