/**
 * Dashboard users from AUTH_USERS: `name:role:hash` entries separated by
 * commas. Passwords are stored only as scrypt hashes
 * (`scrypt$<salt>$<key>`, base64url), made by `npm run hash-password`.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface AuthUser {
  name: string;
  role: Role;
  /** scrypt$<salt>$<key> */
  hash: string;
}

const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 32;
const HASH_RE = /^scrypt\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{40,}$/;
const NAME_RE = /^[A-Za-z0-9_.@-]{1,64}$/;

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LEN, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt);
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!HASH_RE.test(hash)) return false;
  const [, salt, key] = hash.split('$');
  const expected = Buffer.from(key, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'));
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** Parse AUTH_USERS; throws an Error whose message says which entry is wrong and how. */
export function parseUsers(text: string): AuthUser[] {
  const users: AuthUser[] = [];
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('expected at least one name:role:hash entry');
  entries.forEach((entry, i) => {
    const [name, role, hash, ...rest] = entry.split(':');
    const where = `entry ${i + 1}${name && NAME_RE.test(name) ? ` (${name})` : ''}`;
    if (rest.length > 0 || hash === undefined) throw new Error(`${where}: expected name:role:hash`);
    if (!NAME_RE.test(name)) throw new Error(`${where}: user names are 1-64 letters, digits, _ . @ -`);
    if (!(ROLES as readonly string[]).includes(role)) throw new Error(`${where}: role must be viewer or operator, not "${role}"`);
    if (!HASH_RE.test(hash)) throw new Error(`${where}: the password must be a scrypt hash from \`npm run hash-password\``);
    if (users.some((u) => u.name === name)) throw new Error(`${where}: user ${name} is listed twice`);
    users.push({ name, role: role as Role, hash });
  });
  return users;
}
