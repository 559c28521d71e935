#!/usr/bin/env bash
# Starts fake-novelai on a free port and checks the NovelAI rules it enforces, over HTTP.
# usage: fake_test.sh path/to/fake-novelai     (needs curl and jq; exits 77 to skip without them)
set -euo pipefail

BIN=${1:?usage: fake_test.sh path/to/fake-novelai}
for tool in curl jq od; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

WORK=$(mktemp -d)
FAKE_PID=
cleanup() {
    if [[ -n $FAKE_PID ]] && kill -0 "$FAKE_PID" 2>/dev/null; then
        kill -KILL "$FAKE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

FAILS=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILS=$((FAILS + 1)); }
check() { # check NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

OK=pst-test-ok-0123456789abcdefghijklmnopqrstuv
cat >"$WORK/tokens.json" <<EOF
[{"token":"$OK","tier":3,"active":true,"anlas":1000,"v5_negative":false,"behaviour":"ok"},
 {"token":"pst-test-invalid","behaviour":"invalid"},
 {"token":"pst-test-broke","behaviour":"broke"},
 {"token":"pst-test-flaky","behaviour":"flaky"},
 {"token":"pst-test-locked","behaviour":"locked"},
 {"token":"pst-test-poor","tier":1,"anlas":3}]
EOF

"$BIN" --port 0 --tokens "$WORK/tokens.json" --port-file "$WORK/port" >"$WORK/stdout" 2>"$WORK/stderr" &
FAKE_PID=$!
for _ in $(seq 100); do
    [[ -s $WORK/port ]] && break
    sleep 0.05
done
PORT=$(cat "$WORK/port")
U=http://127.0.0.1:$PORT
check "startup line" "fake-novelai listening on 127.0.0.1:$PORT" "$(head -n1 "$WORK/stdout")"

# status ROUTE TOKEN [curl args...]: prints the HTTP status, body in $WORK/body
status() {
    local route=$1 token=$2
    shift 2
    local auth=()
    [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
    curl -s -o "$WORK/body" -w '%{http_code}' "${auth[@]}" "$@" "$U$route"
}
config() { curl -s -o /dev/null -X POST -d "$1" "$U/__config"; }
stat() { curl -s "$U/__stats" | jq -r "$1"; }
wait_in_flight() { # wait until N requests are held by the fake
    for _ in $(seq 200); do
        [[ $(stat .in_flight) == "$1" ]] && return 0
        sleep 0.02
    done
    return 1
}

IMG='{"input":"cat","model":"nai-diffusion-4-5-full","action":"generate","parameters":{"width":64,"height":64,"steps":28,"n_samples":2,"seed":7}}'
STREAM='{"input":"cat","model":"nai-diffusion-4-5-full","parameters":{"width":64,"height":64,"steps":28,"stream":"msgpack"}}'

# --- auth and routing
check "subscription 200" 200 "$(status /user/subscription "$OK")"
check "subscription tier" 3 "$(jq .tier "$WORK/body")"
check "subscription anlas" 1000 "$(jq .trainingStepsLeft.fixedTrainingStepsLeft "$WORK/body")"
check "missing token 401" 401 "$(status /user/subscription "")"
check "401 body" "Invalid accessToken." "$(jq -r .message "$WORK/body")"
check "unknown token 401" 401 "$(status /ai/generate-image pst-nobody -d "$IMG")"
check "invalid behaviour 401" 401 "$(status /user/subscription pst-test-invalid)"
check "forbidden route 404" 404 "$(status /user/login "$OK" -d '{}')"

# --- images
check "generate-image 200" 200 "$(status /ai/generate-image "$OK" -H 'Content-Type: application/json' \
    -H 'x-correlation-id: corr-1' -d "$IMG")"
check "zip magic" "50 4b 03 04" "$(od -An -tx1 -N4 "$WORK/body" | xargs)"
check "png inside zip" "89 50 4e 47" "$(od -An -tx1 -j41 -N4 "$WORK/body" | xargs)"
check "two images" 2 "$(grep -a -o 'image_[0-9]\.png' "$WORK/body" | sort -u | wc -l | xargs)"
check "json images" 2 "$(status /ai/generate-image "$OK" -H 'Accept: application/json' -d "$IMG" >/dev/null; jq '.images|length' "$WORK/body")"
check "bad size 400" 400 "$(status /ai/generate-image "$OK" -d '{"model":"nai-diffusion-3","parameters":{"width":65,"height":64}}')"
check "bad json 400" 400 "$(status /ai/generate-image "$OK" -d '{nope')"
check "steps>50 400" 400 "$(status /ai/generate-image "$OK" -d '{"model":"nai-diffusion-3","parameters":{"steps":51}}')"

# --- Anlas
check "broke 402" 402 "$(status /ai/generate-image pst-test-broke -d "$IMG")"
check "402 body" "Insufficient Anlas" "$(jq -r .message "$WORK/body")"
check "not enough Anlas 402" 402 "$(status /ai/generate-image pst-test-poor -d "$IMG")"
check "vibe 200" 200 "$(status /ai/encode-vibe pst-test-poor -d '{"image":"aGk=","model":"nai-diffusion-4-5-full"}')"
check "vibe size" 49152 "$(wc -c <"$WORK/body" | xargs)"
check "vibe again 402" 402 "$(status /ai/encode-vibe pst-test-poor -d '{"image":"aGk=","model":"nai-diffusion-4-5-full"}')"

# --- one generation at a time per account
config '{"latency_ms":800}'
status /ai/generate-image "$OK" -d "$IMG" >"$WORK/first.status" &
FIRST=$!
wait_in_flight 1 || fail "first generation never started"
check "overlap 429" 429 "$(curl -s -o "$WORK/second" -w '%{http_code}' -H "Authorization: Bearer $OK" -d "$IMG" "$U/ai/generate-image")"
check "429 body" "Concurrent generation is locked" "$(jq -r .message "$WORK/second")"
check "subscription is no generation" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OK" "$U/user/subscription")"
wait "$FIRST"
check "first still 200" 200 "$(cat "$WORK/first.status")"
check "lock violation counted" 1 "$(stat .lock_violations)"
check "peak concurrency" 2 "$(stat ".peak_concurrency[\"$OK\"]")"
config '{"latency_ms":0}'
check "locked behaviour 429" 429 "$(status /ai/generate-image pst-test-locked -d "$IMG")"
check "locked is no violation" 1 "$(stat .lock_violations)"
check "flaky first 200" 200 "$(status /ai/generate-image pst-test-flaky -d "$IMG")"
check "flaky second 500" 500 "$(status /ai/generate-image pst-test-flaky -d "$IMG")"

# --- streams
config '{"event_delay_ms":150}'
code=$(curl -s --trace-ascii "$WORK/trace" -o "$WORK/stream" -w '%{http_code} %{content_type}' \
    -H "Authorization: Bearer $OK" -d "$STREAM" "$U/ai/generate-image-stream")
check "msgpack stream 200" "200 application/msgpack" "$code"
reads=$(grep -c '^<= Recv data' "$WORK/trace")
if ((reads >= 4)); then pass "stream arrived in $reads reads"; else fail "stream arrived in $reads reads"; fi
size=$(wc -c <"$WORK/stream")
offset=0 frames=0
while ((offset + 4 <= size)); do
    len=$(od -An -tu1 -j"$offset" -N4 "$WORK/stream" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    offset=$((offset + 4 + len))
    frames=$((frames + 1))
done
check "msgpack frames" "4 $size" "$frames $offset"
check "final event" 1 "$(grep -c -a 'final' "$WORK/stream")"
check "sse error event" "200 1" "$(status /ai/generate-image-stream "$OK" \
    -d '{"input":"x FAIL_MID_STREAM","model":"nai-diffusion-4-5-full","parameters":{"width":64,"height":64,"stream":"sse"}}') $(grep -c '^event: error' "$WORK/body")"

# The lock outlives a client that hangs up mid-stream (4 events, 150 ms apart).
curl -s -o /dev/null --max-time 0.2 -H "Authorization: Bearer $OK" -d "$STREAM" "$U/ai/generate-image-stream" || true
check "lock held after hang-up" 429 "$(status /ai/generate-image "$OK" -d "$IMG")"
wait_in_flight 0 || fail "abandoned stream never ended"
check "lock released after stream" 200 "$(status /ai/generate-image "$OK" -d "$IMG")"
check "text stream" "200 8" "$(status /ai/generate-stream "$OK" -d '{"input":"hi","model":"llama-3-erato-v1"}') $(grep -c '^data: ' "$WORK/body")"
check "oa stream ends with DONE" "data: [DONE]" "$(status /oa/v1/chat/completions "$OK" \
    -d '{"model":"glm-4-6","messages":[{"role":"user","content":"hi"}],"stream":true}' >/dev/null; grep '^data: ' "$WORK/body" | tail -n1)"

# --- stats and last-request records
check "generate-image count" 9 "$(stat ".requests[\"$OK\"][\"/ai/generate-image\"]")"
check "unknown token counted" 1 "$(stat '.requests["pst-nobody"]["/ai/generate-image"]')"
curl -s "$U/__last?route=/ai/generate-image" >"$WORK/last"
check "last body sha256" "$(printf '%s' "$IMG" | sha256sum | cut -d' ' -f1)" "$(jq -r .body_sha256 "$WORK/last")"
check "last token" "$OK" "$(jq -r .token "$WORK/last")"
curl -s -o /dev/null -H "Authorization: Bearer $OK" -H 'x-correlation-id: corr-2' -H 'Host: image.novelai.net' "$U/user/subscription"
curl -s "$U/__last?route=%2Fuser%2Fsubscription" >"$WORK/last"
check "last correlation id" corr-2 "$(jq -r '.headers["x-correlation-id"]' "$WORK/last")"
check "last host" image.novelai.net "$(jq -r .host "$WORK/last")"
check "add token" 200 "$(curl -s -o /dev/null -w '%{http_code}' -d '{"token":"pst-test-new","tier":1,"anlas":7}' "$U/__tokens")"
check "new token works" "200 7" "$(status /user/subscription pst-test-new) $(jq .trainingStepsLeft.fixedTrainingStepsLeft "$WORK/body")"
curl -s -o /dev/null -X POST "$U/__reset"
check "reset" "0 0" "$(stat '"\(.total) \(.lock_violations)"')"

# --- clean exit on SIGTERM
kill -TERM "$FAKE_PID"
rc=0
wait "$FAKE_PID" || rc=$?
FAKE_PID=
check "exit status after SIGTERM" 0 "$rc"
if [[ -s $WORK/stderr ]]; then
    fail "stderr not empty"
    cat "$WORK/stderr"
fi

# --- --bind: another address of this machine (127.0.0.2 here), and only that one
"$BIN" --port 0 --bind 127.0.0.2 --tokens "$WORK/tokens.json" --port-file "$WORK/port2" >"$WORK/stdout2" 2>&1 &
FAKE_PID=$!
for _ in $(seq 100); do
    [[ -s $WORK/port2 ]] && break
    sleep 0.05
done
PORT2=$(cat "$WORK/port2" 2>/dev/null || echo none)
check "bind startup line" "fake-novelai listening on 127.0.0.2:$PORT2" "$(head -n1 "$WORK/stdout2")"
check "bind answers there" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.2:$PORT2/__stats")"
check "bind not on 127.0.0.1" 000 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/__stats" || true)"
kill -TERM "$FAKE_PID"
wait "$FAKE_PID" || true
FAKE_PID=
check "bind refuses the wildcard" 2 "$("$BIN" --port 0 --bind 0.0.0.0 --tokens "$WORK/tokens.json" >/dev/null 2>&1; echo $?)"
check "bind refuses a name" 2 "$("$BIN" --port 0 --bind localhost --tokens "$WORK/tokens.json" >/dev/null 2>&1; echo $?)"

if ((FAILS > 0)); then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
