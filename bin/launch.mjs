// Starts the osloscope CLI (bin/osloscope runs this file) from a bundle of bin/osloscope.ts
// and the tree it imports, so a start parses one prebuilt file instead of loading tsx and
// transpiling every module. The bundle lives in .build/cli/ under the install root (git-ignored,
// never packed) and is used only while it is fresh: .build/cli/current.json names the build and
// lists every source it was made from with its mtime, size and SHA-1; a start stats them and
// rebuilds when one differs (a changed mtime with the same size is checked by content, so a git
// checkout or an unpacked tarball does not force a rebuild). Plain JavaScript: nothing to load first.
//
// The first start to find the bundle stale takes .build/cli/build.lock and rebuilds; starts at
// the same time wait for that build. The rebuild writes into a private temporary folder, renames
// it to a name derived from its inputs, then replaces current.json by rename, so every start sees
// either the old complete build or the new one. When the bundle cannot be made (read-only install,
// esbuild missing, a source that does not compile) the CLI runs through tsx as it always has;
// OSLOSCOPE_CLI=tsx forces that.
//
// Packages from node_modules stay external (resolved at run time, as under tsx), each command's
// `await import('./commands/x.ts')` stays a lazily loaded chunk, and `import.meta.url` in a
// bundled source still names that source file (computed at run time from the bundle's
// location), so paths built from it (bench's children, createRequire) stay right.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FORMAT = 1;
/** sources the build depends on beyond the modules it bundles */
const EXTRA_INPUTS = ['bin/launch.mjs', 'tsconfig.json', 'package.json'];
/** a superseded build is removed once it is this old and no longer the previous one */
const KEEP_OLD_MS = 60 * 60 * 1000;
/** at most this many bundled sources (bounds what a start reads from current.json) */
const MAX_INPUTS = 5000;

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the builds live for an install root. */
export function buildDir(root) {
  return join(root, '.build', 'cli');
}

function readRecord(root) {
  try {
    const rec = JSON.parse(readFileSync(join(buildDir(root), 'current.json'), 'utf8'));
    if (rec?.format !== FORMAT || typeof rec.dir !== 'string' || !/^b-[0-9a-f]{16}$/.test(rec.dir)) return null;
    if (!Array.isArray(rec.inputs) || rec.inputs.length === 0 || rec.inputs.length > MAX_INPUTS) return null;
    return rec;
  } catch {
    return null;
  }
}

function sha1(createHash, path) {
  return createHash('sha1').update(readFileSync(path)).digest('hex');
}

/**
 * The bundle's entry file when .build/cli/current.json names a complete build whose
 * every input is unchanged; null when there is none or it is stale.
 */
export async function freshBundle(root = ROOT) {
  const rec = readRecord(root);
  if (!rec) return null;
  const entry = join(buildDir(root), rec.dir, 'osloscope.mjs');
  if (!existsSync(entry)) return null;
  let createHash = null;
  for (const input of rec.inputs) {
    if (!Array.isArray(input) || input.length !== 4) return null;
    const [rel, mtimeMs, size, hash] = input;
    if (typeof rel !== 'string' || rel.startsWith('..') || rel.startsWith('/')) return null;
    const path = join(root, rel);
    let st;
    try {
      st = statSync(path);
    } catch {
      return null;
    }
    if (st.size !== size) return null;
    if (st.mtimeMs === mtimeMs) continue;
    createHash ??= (await import('node:crypto')).createHash;
    if (sha1(createHash, path) !== hash) return null;
  }
  return entry;
}

/** esbuild as installed with tsx (hoisted beside it, or in tsx's own node_modules). */
function loadEsbuild(root) {
  const fromRoot = createRequire(join(root, 'package.json'));
  const tsxPkg = fromRoot.resolve('tsx/package.json');
  return createRequire(tsxPkg)('esbuild');
}

const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx', '.json': 'json' };
/** a source modified this close to the build may change again within its mtime's tick: always checked by content */
const RACY_MS = 2000;

/**
 * The record of one input as read: its mtime taken before the read, the size and SHA-1 of
 * the bytes read. A file changed after the stat then fails the next start's check or
 * matches by content; one changed within RACY_MS of the build is recorded with mtime -1,
 * so every start compares its content (as git does with a racily clean index).
 */
function readInput(root, rel, createHash, started) {
  const path = join(root, rel);
  const { mtimeMs } = statSync(path);
  const bytes = readFileSync(path);
  const record = [rel, mtimeMs >= started - RACY_MS ? -1 : mtimeMs, bytes.length, createHash('sha1').update(bytes).digest('hex')];
  return { bytes, record };
}

/**
 * Loads every bundled source itself, so what is recorded is exactly what was bundled, and
 * rewrites `import.meta.url` in each to that source's own URL: the bundle's URL, up `toRoot`
 * to the install root, then the source's path from the root.
 */
function sourcePlugin(root, toRoot, createHash, started, records) {
  return {
    name: 'osloscope-sources',
    setup(build) {
      build.onLoad({ filter: /.*/, namespace: 'file' }, (args) => {
        // the install root itself may sit in a node_modules folder (npm install, npx)
        const rel = relative(root, args.path).split(sep).join('/');
        if (rel.startsWith('../') || rel.split('/').includes('node_modules')) return undefined;
        const { bytes, record } = readInput(root, rel, createHash, started);
        records.set(rel, record);
        const loader = LOADERS[extname(args.path)] ?? 'default';
        const text = bytes.toString('utf8');
        if (!['ts', 'tsx', 'js', 'jsx'].includes(loader) || !text.includes('import.meta.url')) return { contents: bytes, loader };
        const id = '__osloscopeSourceUrl';
        const head = `const ${id} = new URL(${JSON.stringify(rel)}, new URL(${JSON.stringify(toRoot)}, import.meta.url)).href;\n`;
        return { contents: head + text.replaceAll('import.meta.url', id), loader };
      });
    },
  };
}

/**
 * Builds the bundle and makes it current. Returns its entry file, or null when it cannot be
 * made (the caller then runs through tsx). Safe to run from many processes at once.
 */
export async function buildBundle(root = ROOT) {
  const dir = buildDir(root);
  const previous = readRecord(root);
  let esbuild;
  try {
    esbuild = loadEsbuild(root);
    mkdirSync(dir, { recursive: true });
  } catch {
    return null;
  }
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const tmp = join(dir, `tmp-${tag}`);
  const started = Date.now();
  try {
    mkdirSync(tmp);
    const { createHash } = await import('node:crypto');
    const records = new Map();
    for (const rel of EXTRA_INPUTS) records.set(rel, readInput(root, rel, createHash, started).record);
    const toRoot = `${relative(tmp, root).split(sep).join('/')}/`;
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: { osloscope: join(root, 'bin', 'osloscope.ts') },
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      chunkNames: '[name]-[hash]',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      keepNames: true,
      tsconfig: join(root, 'tsconfig.json'),
      plugins: [sourcePlugin(root, toRoot, createHash, started, records)],
      metafile: true,
      logLevel: 'silent',
    });
    // every input esbuild names was loaded (and recorded) by the plugin, or is recorded now
    for (const rel of Object.keys(result.metafile.inputs)) if (!rel.includes(':') && !records.has(rel)) records.set(rel, readInput(root, rel, createHash, started).record);
    if (records.size > MAX_INPUTS) throw new Error('too many inputs');
    const inputs = [...records.values()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
    const id = createHash('sha1').update(JSON.stringify([FORMAT, esbuild.version, inputs.map(([rel, , , hash]) => [rel, hash])])).digest('hex').slice(0, 16);
    const name = `b-${id}`;
    const final = join(dir, name);
    try {
      renameSync(tmp, final);
    } catch (err) {
      // the same build, made by another process at the same time
      if (!['ENOTEMPTY', 'EEXIST'].includes(err?.code) || !existsSync(join(final, 'osloscope.mjs'))) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
    const recTmp = join(dir, `current.json.${tag}`);
    writeFileSync(recTmp, JSON.stringify({ format: FORMAT, dir: name, esbuild: esbuild.version, inputs }));
    renameSync(recTmp, join(dir, 'current.json'));
    removeOld(dir, new Set([name, previous?.dir]));
    return join(final, 'osloscope.mjs');
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return null;
  } finally {
    await esbuild.stop?.();
  }
}

function removeOld(dir, keep) {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (keep.has(name) || !/^(b-|tmp-|current\.json\.)/.test(name)) continue;
    try {
      if (now - statSync(join(dir, name)).mtimeMs > KEEP_OLD_MS) rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}

/** The bundle to run: the current one, a new one, or null (run through tsx). */
export async function bundleEntry(root = ROOT, env = process.env) {
  if (env.OSLOSCOPE_CLI === 'tsx') return null;
  return (await freshBundle(root)) ?? (await buildOnce(root));
}

/** a build lock older than this is abandoned whoever holds it */
const LOCK_STALE_MS = 60_000;
/** how long a start waits for another process's build before building itself */
const LOCK_WAIT_MS = 30_000;

/** The holder of a build lock is gone: its process has exited or the lock is too old. */
function lockAbandoned(lock) {
  try {
    if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) return true;
    const pid = Number(readFileSync(lock, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return false; // being written
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err?.code === 'ESRCH' || err?.code === 'ENOENT';
  }
}

/**
 * Builds unless another process already is (.build/cli/build.lock holds its pid): then waits
 * for that build and uses it, so many CLIs starting together after an edit build once.
 */
export async function buildOnce(root = ROOT) {
  const lock = join(buildDir(root), 'build.lock');
  let fd = null;
  try {
    mkdirSync(buildDir(root), { recursive: true });
    fd = openSync(lock, 'wx');
  } catch (err) {
    if (err?.code !== 'EEXIST') return buildBundle(root);
  }
  if (fd === null) {
    const until = Date.now() + LOCK_WAIT_MS;
    while (existsSync(lock) && !lockAbandoned(lock) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const entry = await freshBundle(root);
    if (entry) return entry;
    if (lockAbandoned(lock)) rmSync(lock, { force: true });
    return buildBundle(root);
  }
  try {
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return await buildBundle(root);
  } finally {
    rmSync(lock, { force: true });
  }
}

async function launch() {
  // The CLI sees itself as bin/osloscope.ts, as when tsx ran it: its entry check fires, and the
  // process name oslo.messaging reports (connection names, queue-manager queues) stays the same.
  const source = join(ROOT, 'bin', 'osloscope.ts');
  process.argv[1] = source;
  const entry = await bundleEntry(ROOT);
  if (entry) {
    try {
      await import(pathToFileURL(entry).href);
      return;
    } catch (err) {
      // a file of the build removed under us (linking failed: nothing ran yet); anything else is the CLI's own error
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(buildDir(ROOT))) throw err;
    }
  }
  await import('./register-tsx.mjs');
  await import(pathToFileURL(source).href);
}

function isMain() {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) await launch();
