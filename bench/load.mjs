// Closed-loop load: C clients, each sending generate-image requests back to back for D
// seconds through the relay, round-robin over the users' tokens. Prints
// {ok, errors:{status:n}, seconds, per_second}.
// Usage: node bench/load.mjs STACK_JSON CLIENTS SECONDS
const [json, C = '64', D = '20'] = process.argv.slice(2);
const s = JSON.parse(json);
const body = JSON.stringify({ input: 'bench', model: 'nai-diffusion-4-5-full', action: 'generate',
  parameters: { width: 832, height: 1216, steps: 28, n_samples: 1, seed: 1 } });
const end = Date.now() + Number(D) * 1000;
let ok = 0;
const errors = {};
async function client(i) {
  const token = s.tokens[i % s.tokens.length];
  while (Date.now() < end) {
    const r = await fetch(s.url + '/v1/novelai/ai/generate-image', {
      method: 'POST', body, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
    }).catch(() => null);
    const status = r ? r.status : 0;
    if (r) await r.arrayBuffer();
    if (status === 200 && Date.now() <= end) ok++;
    else if (status !== 200) errors[status] = (errors[status] || 0) + 1;
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(C) }, (_, i) => client(i)));
const seconds = (Date.now() - t0) / 1000;
console.log(JSON.stringify({ ok, errors, seconds, per_second: ok / Number(D) }));
