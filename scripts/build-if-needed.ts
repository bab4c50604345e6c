/**
 * Build the Next.js pages only when needed: when the last build of `.next` did not
 * finish (no OSLOSCOPE_BUILT marker) or is older than any source Next bundles (app/, components/, lib/,
 * next.config.js, package.json, tsconfig.json). A lock directory keeps
 * parallel callers (e2e spec files) from building twice at once.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['app', 'components', 'lib', 'next.config.js', 'package.json', 'tsconfig.json', 'tsconfig.next.json'];
const NEXT_ENV_DTS = join(ROOT, 'next-env.d.ts');

/** The build directory of a BASE_PATH, as next.config.js names it: .next, or .next-osloscope for /osloscope. */
export function distDirFor(basePath: string = process.env.BASE_PATH ?? ''): string {
  const b = basePath.trim();
  return b ? `.next${b.replace(/\//g, '-')}` : '.next';
}
/**
 * Written after `next build` exits 0, removed before it starts: Next writes BUILD_ID part-way, so a build
 * killed after that (a timeout, Ctrl-C) left a folder that looked finished and a server that could not start.
 */
const builtMarkerOf = (basePath: string) => join(ROOT, distDirFor(basePath), 'OSLOSCOPE_BUILT');
const LOCK = join(ROOT, 'node_modules', '.cache', 'osloscope-build.lock');
const LOCK_STALE_MS = 15 * 60_000;

function newestMtime(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** Why a build is needed, or null when the build directory of `basePath` is up to date. */
export function buildReason(basePath: string = process.env.BASE_PATH ?? ''): string | null {
  const marker = builtMarkerOf(basePath);
  if (!existsSync(marker)) return `${distDirFor(basePath)} is missing or its last build did not finish`;
  const built = statSync(marker).mtimeMs;
  for (const s of SOURCES) {
    if (newestMtime(join(ROOT, s)) > built) return `${s} changed since the last build`;
  }
  return null;
}

function runNextBuild(log: (line: string) => void, basePath: string): Promise<void> {
  return new Promise((resolveBuild, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
      cwd: ROOT,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', BASE_PATH: basePath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (output.length > 200_000) output = output.slice(-100_000);
      for (const line of text.split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveBuild() : reject(new Error(`next build failed (exit ${code}):\n${output.slice(-4000)}`))));
  });
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(dirname(LOCK), { recursive: true });
      mkdirSync(LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // the holder just released it
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Build the pages of `basePath` (BASE_PATH by default) when needed; resolves true when it built. */
export async function ensureBuilt(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`), basePath: string = process.env.BASE_PATH ?? ''): Promise<boolean> {
  if (buildReason(basePath) === null) return false;
  return withLock(async () => {
    const reason = buildReason(basePath);
    if (reason === null) return false; // someone else built while we waited
    log(`[osloscope] building the pages (${reason}); this takes a minute…`);
    const hadNextEnv = existsSync(NEXT_ENV_DTS);
    rmSync(builtMarkerOf(basePath), { force: true });
    await runNextBuild(log, basePath);
    writeFileSync(builtMarkerOf(basePath), `${new Date().toISOString()}\n`);
    // next build writes next-env.d.ts, whose global NodeJS.ProcessEnv.NODE_ENV
    // declaration would also apply to the server, CLI and tests that
    // tsconfig.json checks; the running pages do not need the file.
    if (!hadNextEnv) rmSync(NEXT_ENV_DTS, { force: true });
    return true;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureBuilt().then(
    (built) => process.stderr.write(built ? '[osloscope] pages built\n' : '[osloscope] pages are up to date\n'),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
