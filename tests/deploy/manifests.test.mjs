// Offline checks of deploy/: the Kubernetes manifests render with every kubectl found (the
// machine's and, where scripts/deps installed it, Debian's 1.20 with its old kustomize), every
// rendered object validates against the pinned Kubernetes schemas of `kubernetes-models`, and
// the rendered output keeps the promises docs/DEPLOYMENT makes: the restricted Pod Security
// fields, probes, disruption budgets, network policies (in and out), one Secret per service,
// TLS at the edge and /metrics kept inside. The compose file is checked the same way, with
// `docker-compose config -q` where it is installed, and .dockerignore keeps secrets and builds
// out of the image's build context. Nothing here needs a cluster, an engine or the network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import * as models from "kubernetes-models";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const K8S = path.join(root, "deploy/k8s");
const K8S_EVAL = path.join(root, "deploy/k8s-eval");
const COMPOSE = path.join(root, "deploy/compose/docker-compose.yml");

// What each service reads from a Secret, and who calls whom on which port (HACKING.md).
const SECRETS = {
  gateway: ["INTERNAL_SECRET"],
  auth: ["SECRET_KEY", "DATABASE_URL", "ADMIN_PASSWORD", "INTERNAL_SECRET"],
  pool: ["ENCRYPTION_KEY", "DATABASE_URL", "INTERNAL_SECRET"],
  audit: ["DATABASE_URL", "INTERNAL_SECRET"],
  health: ["ENCRYPTION_KEY", "DATABASE_URL", "INTERNAL_SECRET"],
};
const SERVICES = Object.keys(SECRETS);
const LISTENS = { gateway: [5002], auth: [7101], pool: [7102], audit: [7103, 7105, 7106], health: [7104] };
const CALLS = new Set([
  "gateway>auth:7101", "gateway>pool:7102", "gateway>audit:7103", "gateway>health:7104",
  "auth>pool:7102", "health>audit:7103",
  ...["auth", "pool", "audit", "health"].flatMap((s) => [`${s}>audit:7105`, `${s}>audit:7106`]),
]);
const PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];

function which(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

// Every kubectl to render with: NP_KUBECTL (colon-separated) or the one on PATH.
function kubectls() {
  const list = (process.env.NP_KUBECTL || "").split(":").filter(Boolean);
  if (list.length === 0 && which("kubectl")) list.push(which("kubectl"));
  return list;
}

function render(kubectl, dir) {
  return execFileSync(kubectl, ["kustomize", dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function parseAll(text) {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      assert.equal(d.errors.length, 0, String(d.errors[0]));
      return d.toJS();
    })
    .filter((o) => o != null);
}

// The kubernetes-models class for an object: apiVersion "apps/v1" -> models.apps.v1.
function modelOf(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const key = group.replace(/[.-]([a-z0-9])/g, (_, c) => c.toUpperCase());
  const mod = group === "" ? models[version] : models[key]?.[version];
  return mod?.[obj.kind];
}

const kctl = kubectls();
const rendered = {};
function objects(dir) {
  if (!rendered[dir]) rendered[dir] = parseAll(render(kctl[0], dir));
  return rendered[dir];
}
const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const svcOf = (o) => o.spec.template.metadata.labels.service;

test("a kubectl is installed to render the manifests (scripts/deps test)", () => {
  assert.ok(kctl.length > 0, "no kubectl: run scripts/deps test");
});

test("deploy/k8s and deploy/k8s-eval render, the same with every kubectl", () => {
  for (const dir of [K8S, K8S_EVAL]) {
    const first = render(kctl[0], dir);
    assert.ok(parseAll(first).length > 10, `${dir} rendered almost nothing`);
    for (const k of kctl.slice(1)) {
      assert.equal(render(k, dir), first, `${k} renders ${dir} differently from ${kctl[0]}`);
    }
  }
});

test("every rendered object validates against the pinned Kubernetes schemas", () => {
  for (const dir of [K8S, K8S_EVAL]) {
    for (const obj of objects(dir)) {
      const Model = modelOf(obj);
      assert.ok(Model, `no schema for ${obj.apiVersion} ${obj.kind}`);
      assert.doesNotThrow(() => new Model(obj).validate(), `${obj.kind}/${obj.metadata.name}`);
      assert.equal(obj.metadata.namespace ?? (obj.kind === "Namespace" ? undefined : "?"),
        obj.kind === "Namespace" ? undefined : "naipool", `${obj.kind}/${obj.metadata.name} namespace`);
    }
  }
  // The checker itself refuses a wrong object.
  const bad = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: { replicas: "two", selector: {}, template: {} } };
  assert.throws(() => new (modelOf(bad))(bad).validate());
});

// restrictedProblems lists what keeps a pod spec out of the `restricted` Pod Security profile.
function restrictedProblems(name, spec) {
  const p = [];
  const psc = spec.securityContext || {};
  if (spec.automountServiceAccountToken !== false) p.push("automountServiceAccountToken");
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) p.push("host namespaces");
  const allowedVolumes = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret"];
  for (const v of spec.volumes || []) {
    const types = Object.keys(v).filter((k) => k !== "name");
    if (!types.every((t) => allowedVolumes.includes(t))) p.push(`volume ${v.name}: ${types}`);
  }
  for (const c of [...(spec.initContainers || []), ...spec.containers]) {
    const sc = c.securityContext || {};
    const where = `${name}/${c.name}`;
    if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: allowPrivilegeEscalation`);
    if (sc.privileged) p.push(`${where}: privileged`);
    if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: readOnlyRootFilesystem`);
    if (!(sc.capabilities?.drop || []).includes("ALL")) p.push(`${where}: capabilities.drop ALL`);
    if ((sc.capabilities?.add || []).some((a) => a !== "NET_BIND_SERVICE")) p.push(`${where}: capabilities.add`);
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) p.push(`${where}: runAsNonRoot`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) p.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (!["RuntimeDefault", "Localhost"].includes(seccomp)) p.push(`${where}: seccompProfile`);
    if ((c.ports || []).some((x) => x.hostPort)) p.push(`${where}: hostPort`);
    const tmp = (c.volumeMounts || []).find((m) => m.mountPath === "/tmp");
    const vol = tmp && (spec.volumes || []).find((v) => v.name === tmp.name);
    if (!vol?.emptyDir) p.push(`${where}: /tmp is not an emptyDir`);
    if (!c.readinessProbe) p.push(`${where}: readinessProbe`);
    if (!c.livenessProbe) p.push(`${where}: livenessProbe`);
  }
  return p;
}

test("every pod meets the restricted Pod Security profile, with probes and /tmp on an emptyDir", () => {
  const ns = byKind(objects(K8S), "Namespace")[0];
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  for (const dir of [K8S, K8S_EVAL]) {
    const objs = objects(dir);
    const pods = [...byKind(objs, "Deployment"), ...byKind(objs, "StatefulSet")];
    assert.ok(pods.length >= 5);
    for (const o of pods) {
      assert.deepEqual(restrictedProblems(o.metadata.name, o.spec.template.spec), []);
    }
  }
  assert.deepEqual(byKind(objects(K8S), "Deployment").map(svcOf).sort(), [...SERVICES].sort());
  // The checker itself sees a missing field.
  const d = structuredClone(byKind(objects(K8S), "Deployment")[0].spec.template.spec);
  delete d.containers[0].securityContext.readOnlyRootFilesystem;
  assert.ok(restrictedProblems("x", d).some((s) => s.includes("readOnlyRootFilesystem")));
});

test("every Deployment and StatefulSet has a PodDisruptionBudget over its pods", () => {
  for (const dir of [K8S, K8S_EVAL]) {
    const objs = objects(dir);
    const pdbs = byKind(objs, "PodDisruptionBudget");
    for (const o of [...byKind(objs, "Deployment"), ...byKind(objs, "StatefulSet")]) {
      const labels = o.spec.template.metadata.labels;
      const pdb = pdbs.filter((b) =>
        Object.entries(b.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
      assert.equal(pdb.length, 1, `${o.metadata.name}: ${pdb.length} PDBs`);
      assert.ok(pdb[0].spec.maxUnavailable === 1 || pdb[0].spec.minAvailable !== undefined);
    }
  }
});

// Network policy evaluation, enough for these manifests: does a policy set let a packet through?
function selects(sel, labels) {
  if (!sel) return true;
  const ml = Object.entries(sel.matchLabels || {}).every(([k, v]) => labels[k] === v);
  const me = (sel.matchExpressions || []).every((e) =>
    e.operator === "In" ? e.values.includes(labels[e.key]) : e.operator === "Exists" ? e.key in labels : false);
  return ml && me;
}
// peer is {labels} for a pod of the namespace or {external: "ingress" | "public" | "private"}.
function peerMatches(peers, peer) {
  if (!peers) return true; // no from/to: every peer
  return peers.some((x) => {
    if (peer.labels) return !x.namespaceSelector && !x.ipBlock && selects(x.podSelector, peer.labels);
    if (peer.external === "ingress") {
      return x.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "ingress-nginx";
    }
    if (!x.ipBlock) return false;
    const excluded = PRIVATE.every((c) => (x.ipBlock.except || []).includes(c));
    return x.ipBlock.cidr === "0.0.0.0/0" && (peer.external === "public" || !excluded);
  });
}
const portOk = (ports, port) => !ports || ports.some((p) => p.port === port);
function allowed(policies, podLabels, dir, peer, port) {
  const key = dir === "in" ? "Ingress" : "Egress";
  const mine = policies.filter((p) => selects(p.spec.podSelector, podLabels) && p.spec.policyTypes.includes(key));
  if (mine.length === 0) return true; // not isolated
  const field = dir === "in" ? "ingress" : "egress";
  const peersOf = dir === "in" ? "from" : "to";
  return mine.some((p) => (p.spec[field] || []).some((r) => peerMatches(r[peersOf], peer) && portOk(r.ports, port)));
}

test("network policies let through exactly the calls the suite makes, in and out", () => {
  const objs = objects(K8S_EVAL);
  const pols = byKind(objs, "NetworkPolicy");
  const lab = (s) => ({ app: "naipool", service: s });
  const pg = { app: "naipool-postgres" };
  for (const src of SERVICES) {
    for (const dst of SERVICES) {
      for (const port of LISTENS[dst]) {
        const ok = allowed(pols, lab(src), "out", { labels: lab(dst) }, port) &&
          allowed(pols, lab(dst), "in", { labels: lab(src) }, port);
        assert.equal(ok, CALLS.has(`${src}>${dst}:${port}`), `${src} -> ${dst}:${port}`);
      }
    }
    // From outside: the gateway from the ingress controller only; nothing else.
    for (const port of LISTENS[src]) {
      assert.equal(allowed(pols, lab(src), "in", { external: "ingress" }, port), src === "gateway", `ingress -> ${src}`);
      assert.equal(allowed(pols, lab(src), "in", { external: "public" }, port), false, `public -> ${src}`);
    }
    // Out: HTTPS to public addresses for pool and health only, never to private ones.
    const upstream = src === "pool" || src === "health";
    assert.equal(allowed(pols, lab(src), "out", { external: "public" }, 443), upstream, `${src} -> :443`);
    assert.equal(allowed(pols, lab(src), "out", { external: "private" }, 443), false, `${src} -> private:443`);
    assert.equal(allowed(pols, lab(src), "out", { external: "public" }, 80), false, `${src} -> :80`);
    // Postgres, whether outside (managed) or the evaluation StatefulSet, for the back-ends only.
    const db = src !== "gateway";
    assert.equal(allowed(pols, lab(src), "out", { external: "private" }, 5432), db, `${src} -> pg`);
    assert.equal(allowed(pols, lab(src), "out", { labels: pg }, 5432) && allowed(pols, pg, "in", { labels: lab(src) }, 5432), db);
    // DNS for everyone.
    const dnsOk = pols.some((p) => selects(p.spec.podSelector, lab(src)) && (p.spec.egress || []).some((r) =>
      (r.to || []).some((t) => t.podSelector?.matchLabels?.["k8s-app"] === "kube-dns") && portOk(r.ports, 53)));
    assert.ok(dnsOk, `${src}: DNS`);
  }
  assert.equal(allowed(pols, pg, "out", { external: "public" }, 443), false, "postgres -> out");
  // A pod nobody named is denied both ways (the default-deny policy).
  assert.equal(allowed(pols, { app: "other" }, "in", { labels: lab("gateway") }, 80), false);
  assert.equal(allowed(pols, { app: "other" }, "out", { external: "public" }, 443), false);
});

test("each service reads only its own Secret, as files (the gateway INTERNAL_SECRET only)", () => {
  const example = parseAll(readFileSync(path.join(K8S, "secret.example.yaml"), "utf8"));
  for (const d of byKind(objects(K8S), "Deployment")) {
    const svc = svcOf(d);
    const spec = d.spec.template.spec;
    const c = spec.containers[0];
    assert.ok(!(c.envFrom || []).some((e) => e.secretRef), `${svc}: envFrom secretRef`);
    assert.ok(!(c.env || []).some((e) => e.valueFrom?.secretKeyRef), `${svc}: secretKeyRef`);
    const secretVols = (spec.volumes || []).filter((v) => v.secret);
    const files = (c.env || []).filter((e) => e.name.endsWith("_FILE")).map((e) => e.name.slice(0, -5)).sort();
    assert.deepEqual(files, [...SECRETS[svc]].sort(), `${svc}: secrets named`);
    if (SECRETS[svc].length === 0) {
      assert.equal(secretVols.length, 0, `${svc} mounts a secret`);
      continue;
    }
    assert.deepEqual(secretVols.map((v) => v.secret.secretName), [`naipool-${svc}`]);
    const mount = c.volumeMounts.find((m) => m.name === secretVols[0].name);
    for (const e of c.env.filter((x) => x.name.endsWith("_FILE"))) {
      assert.equal(e.value, `${mount.mountPath}/${e.name.slice(0, -5)}`);
    }
    const ex = example.find((s) => s.metadata.name === `naipool-${svc}`);
    assert.deepEqual(Object.keys(ex.stringData).sort(), [...SECRETS[svc]].sort(), `example ${svc}`);
  }
  assert.equal(byKind(objects(K8S), "Secret").length, 0, "no Secret with values is shipped");
});

test("the Ingress ends TLS and keeps /metrics inside", () => {
  const [ing] = byKind(objects(K8S), "Ingress");
  assert.ok(ing.spec.tls?.[0]?.secretName, "tls");
  assert.ok(Object.keys(ing.metadata.annotations).some((a) => a.startsWith("cert-manager.io/")));
  for (const rule of ing.spec.rules) {
    for (const p of rule.http.paths) {
      const toGateway = p.backend.service.name === "naipool-gateway";
      if (p.path === "/metrics") assert.ok(!toGateway && p.pathType === "Exact");
    }
    const metrics = rule.http.paths.find((p) => p.path === "/metrics");
    assert.ok(metrics, "/metrics must be routed away from the gateway");
    assert.equal(byKind(objects(K8S), "Service").find((s) => s.metadata.name === metrics.backend.service.name).spec.selector, undefined);
  }
  assert.ok(byKind(objects(K8S), "HorizontalPodAutoscaler").some((h) => h.spec.scaleTargetRef.name === "naipool-gateway"));
});

// The compose file: what it promises, read from the file itself.
const compose = YAML.parse(readFileSync(COMPOSE, "utf8"), { merge: true });
const BACKENDS = ["auth", "pool", "audit", "health"];

test("compose: nginx ends TLS on 443, back-ends on an internal network nginx cannot reach", () => {
  const s = compose.services;
  const nginx = s.nginx;
  const ports = (nginx.ports || []).map(String);
  assert.ok(ports.some((p) => p.endsWith(":443")), "443 published");
  assert.ok(ports.some((p) => p.endsWith(":80")), "80 published (redirects)");
  const internal = Object.entries(compose.networks).filter(([, n]) => n.internal === true).map(([k]) => k);
  assert.equal(internal.length, 1, "one internal network");
  const nets = (x) => (Array.isArray(x.networks) ? x.networks : Object.keys(x.networks || {}));
  assert.ok(!nets(nginx).includes(internal[0]), "nginx is not on the internal network");
  for (const b of [...BACKENDS, "postgres"]) {
    // pool and health also go out to NovelAI, on a network of their own that nginx is not on.
    const want = b === "pool" || b === "health" ? [internal[0], "egress"] : internal;
    assert.deepEqual(nets(s[b]), want, `${b}: networks`);
    assert.equal(s[b].ports, undefined, `${b} publishes no port`);
  }
  assert.ok(!nets(nginx).includes("egress"));
  assert.notEqual(compose.networks.egress?.internal, true);
  assert.ok(nets(s.gateway).includes(internal[0]) && nets(s.gateway).length === 2, "gateway bridges both");
  const conf = readFileSync(path.join(root, "deploy/nginx/naipool.conf.template"), "utf8");
  // gateways are looked up at run time (scaled, restarted on a new address) through the
  // network's own DNS, which the nginx image's entrypoint fills in
  assert.match(conf, /resolver \$\{NAIPOOL_RESOLVER\} valid=\d+s/);
  assert.match(conf, /proxy_pass http:\/\/\$naipool_gateway:5002;/);
  assert.ok(nginx.volumes.some((v) => v.includes("10-naipool-resolver.envsh:/docker-entrypoint.d/")), "the resolver script is mounted");
  assert.match(conf, /listen 443 ssl/);
  assert.match(conf, /return 301 https:/);
  assert.match(conf, /Strict-Transport-Security/);
  assert.match(conf, /location = \/metrics\s*\{\s*return 404;/);
});

test("compose: podman-compose 1.0.3 reads it; the gateways trust the edge network only", () => {
  // podman-compose 1.0.3 (Debian 12) fails on the mapping form of a service's networks (it looks
  // the whole entry up as a network name) and ignores ipam: every service lists its networks,
  // and the trusted proxies are the edge subnet the file declares (nginx and the gateways).
  for (const [name, svc] of Object.entries(compose.services)) {
    assert.ok(svc.networks === undefined || Array.isArray(svc.networks), `${name}: networks as a list`);
  }
  const edge = compose.networks.edge?.ipam?.config?.[0]?.subnet;
  assert.ok(edge, "edge subnet declared");
  assert.equal(compose.services.gateway.environment.TRUSTED_PROXIES, edge);
  const onEdge = Object.entries(compose.services).filter(([, svc]) => (svc.networks || []).includes("edge")).map(([k]) => k);
  assert.deepEqual(onEdge.sort(), ["gateway", "nginx"]);
});

test("compose: Postgres keeps a volume and a health check; each service gets only its secrets, as files", () => {
  const s = compose.services;
  const pg = s.postgres;
  assert.equal(pg.environment.POSTGRES_PASSWORD_FILE, "/run/secrets/postgres_password");
  assert.deepEqual(pg.secrets, ["postgres_password"]);
  assert.ok((pg.volumes || []).some((v) => String(v).split(":")[0] in (compose.volumes || {})), "named volume");
  assert.ok(pg.healthcheck?.test, "health check");
  for (const svc of SERVICES) {
    const names = (s[svc].secrets || []).map((x) => (typeof x === "string" ? x : x.source)).sort();
    const want = SECRETS[svc].map((k) => k.toLowerCase()).sort();
    assert.deepEqual(names, want, `${svc} secrets`);
    const env = s[svc].environment || {};
    for (const k of Object.keys(SECRETS)) assert.ok(!(k in env));
    for (const k of ["SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "POSTGRES_PASSWORD"]) {
      assert.ok(!(k in env), `${svc}: ${k} in the environment`);
    }
    for (const k of SECRETS[svc]) assert.equal(env[`${k}_FILE`], `/run/secrets/${k.toLowerCase()}`);
    if (svc !== "gateway") {
      assert.equal(s[svc].depends_on?.postgres?.condition, "service_healthy", `${svc} waits for Postgres`);
    }
  }
  for (const [, sec] of Object.entries(compose.secrets)) assert.ok(sec.file, "secrets from files");
});

test("compose: docker-compose config -q accepts the file", { skip: !which("docker-compose") && "no docker-compose" }, () => {
  // config -q reads the secret files it names: give it empty ones in a scratch folder.
  const dir = mkdtempSync(path.join(tmpdir(), "np-compose-"));
  try {
    execFileSync("docker-compose", ["-f", COMPOSE, "config", "-q"], {
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NAIPOOL_SECRETS_DIR: dir },
    });
    writeFileSync(path.join(dir, "broken.yml"), "services:\n  x:\n    image: 3\n    ports: nope\n");
    assert.throws(() => execFileSync("docker-compose", ["-f", path.join(dir, "broken.yml"), "config", "-q"],
      { stdio: "ignore" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(".dockerignore keeps .env files, build folders and tests out of the build context", () => {
  const lines = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
  for (const want of ["**/.env", "**/*.env", "build*/", "tests/", ".git/", "**/node_modules/", "var/"]) {
    assert.ok(lines.includes(want), `.dockerignore lacks ${want}`);
  }
  assert.ok(existsSync(path.join(root, "deploy/Dockerfile")));
});
