-- wrk script for bench/run part 2: POST /ai/generate-image, a free Opus request. With
-- BENCH_KEYS (comma separated) each wrk thread sends with its own key, so that going straight
-- to the fake never runs two generations on one key (run it with as many threads as
-- connections); without it, the Authorization header given to wrk is used.
wrk.method = "POST"
wrk.body = '{"input":"bench","model":"nai-diffusion-4-5-full","action":"generate",'
    .. '"parameters":{"width":832,"height":1216,"steps":28,"n_samples":1,"seed":1}}'
wrk.headers["Content-Type"] = "application/json"

local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS") or "", "[^,]+") do
    keys[#keys + 1] = k
end
local threads = 0

function setup(thread)
    threads = threads + 1
    if #keys > 0 then
        thread:set("key", keys[(threads - 1) % #keys + 1])
    end
end

function init(args)
    if key then
        wrk.headers["Authorization"] = "Bearer " .. key
    end
end
