// Builds a database of the earlier Python pool ("Youzini-Nai-Pool") the way it stores its
// data (../shared/SEED-COMPAT.md): passlib pbkdf2_sha256 password hashes, relay keys kept as
// sha256 hex, contributed keys as URL-safe base64 of nonce | AES-256-GCM ciphertext | tag with
// no associated data, naive UTC timestamps. Written as SQL and loaded with the sqlite3 CLI.
import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const SCHEMA = `
CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(64) UNIQUE NOT NULL,
  email VARCHAR(255) UNIQUE, hashed_password VARCHAR(255) NOT NULL, role VARCHAR(16) DEFAULT 'user',
  is_active BOOLEAN DEFAULT 1, manual_rpm INTEGER, discord_id VARCHAR(64),
  discord_username VARCHAR(64), created_at DATETIME);
CREATE TABLE api_keys (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, key_encrypted TEXT NOT NULL,
  key_hash VARCHAR(64) UNIQUE NOT NULL, status VARCHAR(16) DEFAULT 'pending', tier INTEGER,
  is_enabled BOOLEAN DEFAULT 1, total_requests INTEGER DEFAULT 0, success_requests INTEGER DEFAULT 0,
  fail_requests INTEGER DEFAULT 0, fail_streak INTEGER DEFAULT 0, last_used_at DATETIME,
  cooldown_until DATETIME, last_checked_at DATETIME, last_error TEXT, created_at DATETIME);
CREATE TABLE client_api_keys (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name VARCHAR(64),
  key_hash VARCHAR(64) UNIQUE NOT NULL, prefix VARCHAR(16), is_active BOOLEAN DEFAULT 1,
  created_at DATETIME, last_used_at DATETIME);
CREATE TABLE request_logs (id INTEGER PRIMARY KEY, user_id INTEGER, api_key_id INTEGER,
  action VARCHAR(32), ip_address VARCHAR(64), width INTEGER, height INTEGER, steps INTEGER,
  samples INTEGER, status VARCHAR(16), status_code INTEGER, latency_ms INTEGER,
  reject_reason TEXT, created_at DATETIME);
CREATE TABLE system_config (key VARCHAR(64) PRIMARY KEY, value TEXT, updated_at DATETIME);
CREATE TABLE auth_attempts (id INTEGER PRIMARY KEY, ip VARCHAR(64), created_at DATETIME);
`;

const ab64 = (b) => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');

/** oldPasswordHash: passlib's pbkdf2_sha256 form. */
export function oldPasswordHash(password, rounds = 29000) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, rounds, 32, 'sha256');
  return `$pbkdf2-sha256$${rounds}$${ab64(salt)}$${ab64(hash)}`;
}

/** oldEncrypt: the earlier pool's key_encrypted for a token under a 32-byte key. */
export function oldEncrypt(keyB64url, token) {
  const key = Buffer.from(keyB64url, 'base64url');
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const ct = Buffer.concat([c.update(token, 'utf8'), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64url');
}

export const sha256hex = (s) => createHash('sha256').update(s).digest('hex');

/** oldRelayKey: "np-" and 43 URL-safe characters, as the earlier pool made them. */
export const oldRelayKey = () => 'np-' + randomBytes(32).toString('base64url');

const q = (v) => (v === null || v === undefined ? 'NULL'
  : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

function insert(table, rows) {
  return rows.map((r) => `INSERT INTO ${table} (${Object.keys(r).join(', ')}) VALUES (${
    Object.values(r).map(q).join(', ')});`).join('\n');
}

/** buildOldPool writes a SQLite file at path with the given tables' rows. */
export function buildOldPool(path, { users = [], apiKeys = [], clientKeys = [], logs = [], config = [] }) {
  const sql = [SCHEMA, insert('users', users), insert('api_keys', apiKeys),
    insert('client_api_keys', clientKeys), insert('request_logs', logs),
    insert('system_config', config)].join('\n');
  execFileSync('sqlite3', [path], { input: sql });
}
