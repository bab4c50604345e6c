/**
 * bin/launch.mjs, the CLI's launcher: it runs the CLI from a bundle in .build/cli/ while the
 * bundle matches its sources, rebuilds it when one changes (also when many CLIs start at once),
 * keeps `import.meta.url` naming each source file, keeps commands' dynamic imports lazy, and
 * falls back to tsx when the bundle cannot be written. Most cases run a small CLI in a scratch
 * install root (the real launcher and tsx, a stand-in bin/osloscope.ts); the last runs every
 * command's --help through the real bin/osloscope, so each lazily loaded chunk of the real
 * bundle links.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const START_TIMEOUT_MS = 90_000;

interface Started {
  code: number;
  stdout: string;
  stderr: string;
}

function start(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: START_TIMEOUT_MS, maxBuffer: 1 << 20, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

interface Report {
  value: number;
  url: string;
  argv1: string;
  args: string[];
  fromBundle: boolean;
  cmd: { url: string; sibling: string; zod: string; loadedLazily: boolean };
}

const MAIN = `import { createRequire } from 'node:module';
import { VALUE } from './value.ts';
import { loaded } from './loaded.ts';
const isEntry = process.argv[1] && import.meta.url === new URL(\`file://\${process.argv[1]}\`).href;
if (isEntry) {
  const before = loaded.length;
  const cmd = await import('./commands/cmd.ts');
  const report = {
    value: VALUE,
    url: import.meta.url,
    argv1: process.argv[1],
    args: process.argv.slice(2),
    fromBundle: (new Error().stack ?? '').includes('/.build/cli/'),
    cmd: { ...cmd.info(), loadedLazily: before === 0 && loaded.length === 1 },
  };
  process.stdout.write(JSON.stringify(report) + '\\n');
  process.exitCode = Number(process.env.FAKE_EXIT ?? 0);
}
void createRequire;
`;

const CMD = `import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loaded } from '../loaded.ts';

loaded.push('cmd');
export function info() {
  return {
    url: import.meta.url,
    sibling: fileURLToPath(new URL('./data.txt', import.meta.url)),
    zod: createRequire(import.meta.url).resolve('zod') + ':' + typeof z.object,
  };
}
`;

/** A scratch install root: the real launcher, tsx and node_modules, a stand-in CLI. */
function scratchRoot(parent: string, name: string): string {
  const root = join(parent, name);
  mkdirSync(join(root, 'bin', 'commands'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module' }));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', allowImportingTsExtensions: true, noEmit: true } }));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  for (const f of ['osloscope', 'launch.mjs', 'register-tsx.mjs']) copyFileSync(join(ROOT, 'bin', f), join(root, 'bin', f));
  writeFileSync(join(root, 'bin', 'osloscope.ts'), MAIN);
  writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 1;\n');
  writeFileSync(join(root, 'bin', 'loaded.ts'), 'export const loaded: string[] = [];\n');
  writeFileSync(join(root, 'bin', 'commands', 'cmd.ts'), CMD);
  return root;
}

function parse(r: Started): Report {
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Report;
}

const record = (root: string) => JSON.parse(readFileSync(join(root, '.build', 'cli', 'current.json'), 'utf8')) as { dir: string; inputs: [string, number, number, string][] };
const builds = (root: string) => readdirSync(join(root, '.build', 'cli')).filter((n) => n !== 'current.json').sort();

describe('bin/launch.mjs on a scratch install', () => {
  let parent: string;
  let root: string;
  let bin: string;

  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), 'osloscope-launch-'));
    // laid out as npm installs it: app/node_modules/osloscope, run through app/node_modules/.bin/osloscope
    mkdirSync(join(parent, 'app', 'node_modules', '.bin'), { recursive: true });
    root = scratchRoot(join(parent, 'app', 'node_modules'), 'osloscope');
    bin = join(parent, 'app', 'node_modules', '.bin', 'osloscope');
    symlinkSync(join(root, 'bin', 'osloscope'), bin);
  });

  afterAll(() => {
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  it('builds on first start and runs from the bundle, sources still naming themselves', async () => {
    const r = await start(bin, ['call', '--json', 'a b'], { FAKE_EXIT: '3' });
    expect(r.code).toBe(3);
    const rep = parse(r);
    expect(rep.fromBundle).toBe(true);
    expect(rep.value).toBe(1);
    expect(rep.args).toEqual(['call', '--json', 'a b']);
    expect(rep.argv1).toBe(join(root, 'bin', 'osloscope.ts'));
    expect(rep.url).toBe(pathToFileURL(join(root, 'bin', 'osloscope.ts')).href);
    expect(rep.cmd.url).toBe(pathToFileURL(join(root, 'bin', 'commands', 'cmd.ts')).href);
    expect(rep.cmd.sibling).toBe(join(root, 'bin', 'commands', 'data.txt'));
    expect(rep.cmd.zod).toMatch(/\/node_modules\/zod\/.*:function$/);
    expect(rep.cmd.loadedLazily).toBe(true);
    const rec = record(root);
    expect(builds(root)).toEqual([rec.dir]);
    expect(rec.inputs.map(([rel]) => rel)).toEqual(['bin/commands/cmd.ts', 'bin/launch.mjs', 'bin/loaded.ts', 'bin/osloscope.ts', 'bin/value.ts', 'package.json', 'tsconfig.json']);
    // the command's module is its own chunk, loaded only when asked for
    expect(readdirSync(join(root, '.build', 'cli', rec.dir)).filter((f) => f.startsWith('cmd-'))).toHaveLength(1);
  }, 120_000);

  it('reuses a fresh bundle, also when a source is touched but unchanged', async () => {
    const file = join(root, '.build', 'cli', 'current.json');
    const before = { text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs, builds: builds(root) };
    expect(parse(await start(bin, [])).fromBundle).toBe(true);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'bin', 'value.ts'), later, later);
    const r = await start(bin, []);
    expect(parse(r)).toMatchObject({ fromBundle: true, value: 1 });
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(before.text);
    expect(statSync(file).mtimeMs).toBe(before.mtime);
    expect(builds(root)).toEqual(before.builds);
  }, 120_000);

  it('rebuilds when a source changes', async () => {
    const old = record(root).dir;
    writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 2;\n');
    const rep = parse(await start(bin, []));
    expect(rep).toMatchObject({ fromBundle: true, value: 2 });
    expect(record(root).dir).not.toBe(old);
    // the previous build stays for CLIs still running from it
    expect(builds(root)).toEqual([old, record(root).dir].sort());
  }, 120_000);

  it('many CLIs starting at once on a stale bundle all run the new sources and leave one complete build', async () => {
    writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 3;\n');
    const runs = await Promise.all(Array.from({ length: 6 }, () => start(bin, ['x'])));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(parse(r)).toMatchObject({ value: 3, args: ['x'], fromBundle: true });
    }
    const rec = record(root);
    expect(existsSync(join(root, '.build', 'cli', rec.dir, 'osloscope.mjs'))).toBe(true);
    expect(builds(root).filter((n) => !n.startsWith('b-'))).toEqual([]);
    expect(parse(await start(bin, []))).toMatchObject({ fromBundle: true, value: 3 });
  }, 180_000);

  it('a start finding another build under way waits for it and uses it instead of building too', async () => {
    const lock = join(root, '.build', 'cli', 'build.lock');
    mkdirSync(join(root, '.build', 'cli'), { recursive: true });
    writeFileSync(lock, String(process.pid)); // held by a live process: this test
    writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 4;\n');
    let exited = false;
    const waiting = start(bin, []).finally(() => (exited = true));
    try {
      const built = await start(process.execPath, ['--input-type=module', '-e', `import { buildBundle } from ${JSON.stringify(pathToFileURL(join(root, 'bin', 'launch.mjs')).href)}; await buildBundle(${JSON.stringify(root)});`]);
      expect(built).toMatchObject({ code: 0, stderr: '' });
      await new Promise((r) => setTimeout(r, 500));
      expect(exited).toBe(false);
    } finally {
      rmSync(lock, { force: true });
    }
    const published = statSync(join(root, '.build', 'cli', 'current.json')).mtimeMs;
    const r = await waiting;
    expect(r.code).toBe(0);
    expect(parse(r)).toMatchObject({ fromBundle: true, value: 4 });
    expect(statSync(join(root, '.build', 'cli', 'current.json')).mtimeMs).toBe(published);
  }, 120_000);

  it('a build lock left by a process that died does not hold starts up', async () => {
    const dead = await new Promise<number>((resolve) => {
      const child = execFile(process.execPath, ['-e', '']);
      child.on('exit', () => resolve(child.pid!));
    });
    const lock = join(root, '.build', 'cli', 'build.lock');
    mkdirSync(join(root, '.build', 'cli'), { recursive: true });
    writeFileSync(lock, String(dead));
    writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 5;\n');
    const r = await start(bin, []);
    expect(r.code).toBe(0);
    expect(parse(r)).toMatchObject({ fromBundle: true, value: 5 });
    expect(existsSync(lock)).toBe(false);
  }, 120_000);

  it('a source that does not compile: tsx reports it, the current bundle stays', async () => {
    const rec = record(root);
    writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = ;\n');
    try {
      const r = await start(bin, []);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/value\.ts/);
      expect(record(root).dir).toBe(rec.dir);
    } finally {
      writeFileSync(join(root, 'bin', 'value.ts'), 'export const VALUE: number = 5;\n');
    }
  }, 120_000);

  it('falls back to tsx where the bundle cannot be written, with the same output and exit code', async () => {
    const ro = scratchRoot(parent, 'readonly');
    writeFileSync(join(ro, '.build'), 'not a folder');
    const r = await start(join(ro, 'bin', 'osloscope'), ['ping', '--json'], { FAKE_EXIT: '5' });
    expect(r.code).toBe(5);
    const rep = parse(r);
    expect(rep).toMatchObject({ fromBundle: false, value: 1, args: ['ping', '--json'], argv1: join(ro, 'bin', 'osloscope.ts') });
    expect(rep.cmd.sibling).toBe(join(ro, 'bin', 'commands', 'data.txt'));
  }, 120_000);

  it('OSLOSCOPE_CLI=tsx runs through tsx and writes nothing', async () => {
    const plain = scratchRoot(parent, 'plain');
    const r = await start(join(plain, 'bin', 'osloscope'), [], { OSLOSCOPE_CLI: 'tsx' });
    expect(r.code).toBe(0);
    expect(parse(r)).toMatchObject({ fromBundle: false, value: 1 });
    expect(existsSync(join(plain, '.build'))).toBe(false);
  }, 120_000);
});

describe('the real bin/osloscope', () => {
  it("every command's --help loads through the bundle", async () => {
    const commands = ['call', 'cast', 'notify', 'tap', 'ping', 'serve', 'demo', 'why', 'record', 'bench'];
    const runs = await Promise.all(commands.map((c) => start(join(ROOT, 'bin', 'osloscope'), [c, '--help'])));
    runs.forEach((r, i) => {
      expect(r.stderr, commands[i]).toBe('');
      expect(r.stdout, commands[i]).toMatch(new RegExp(`^usage: osloscope ${commands[i]}\\b`));
      expect(r.code, commands[i]).toBe(0);
    });
  }, 180_000);
});
