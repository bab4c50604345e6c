/**
 * Golden test: the option registry (server/messaging/options.ts) against the
 * options each real oslo.messaging release registers.
 *
 * `peers/option_registry.py` runs under every Python given: Debian's
 * /usr/bin/python3 (oslo.messaging 14.0.3) always, TEST_PYTHON when set (a
 * stack's Python: trixie 16.1.0, sid 18.x), and each interpreter listed in
 * OPTION_REGISTRY_PYTHONS (colon-separated, e.g. wrappers that put another
 * release's source tree first on PYTHONPATH). For each it reports the
 * release and every option of [oslo_messaging_rabbit],
 * [oslo_messaging_notifications] and the [DEFAULT] options osloscope reads;
 * the registry's view of that release (`optsAt`) must match exactly.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  messagingGroup,
  notificationGroup,
  optsAt,
  rabbitGroup,
  transportUrlOpt,
  type OptDef,
  type OptGroup,
} from '../../server/messaging/options.ts';

const HOST_PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./peers/option_registry.py', import.meta.url));

interface PyOpt {
  name: string;
  type: string;
  default: unknown;
  min: number | null;
  max: number | null;
  choices: string[] | null;
  deprecated: { group: string | null; name: string | null }[];
  deprecated_for_removal: boolean;
  secret: boolean;
}
interface PeerOutput {
  version: string;
  groups: Record<string, PyOpt[]>;
}

const pythons = [
  HOST_PYTHON,
  ...(process.env.TEST_PYTHON ? [process.env.TEST_PYTHON] : []),
  ...(process.env.OPTION_REGISTRY_PYTHONS ?? '').split(':').filter(Boolean),
].filter((p, i, all) => all.indexOf(p) === i);

function run(python: string): PeerOutput | string {
  const r = spawnSync(python, [PEER], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024, timeout: 60_000 });
  if (r.status !== 0) return `${python} ${PEER} failed (${r.status ?? r.signal}): ${(r.stderr || String(r.error ?? '')).slice(-800)}`;
  return JSON.parse(r.stdout) as PeerOutput;
}

const hostAvailable = spawnSync(HOST_PYTHON, ['-c', 'import oslo_messaging'], { encoding: 'utf8' }).status === 0;
if (!hostAvailable) {
  const why = `${HOST_PYTHON} cannot import oslo_messaging (apt-get install python3-oslo.messaging)`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n*** SKIPPING option registry golden test: ${why} ***\n`);
}

/** The [DEFAULT] options osloscope reads, as one registry. */
const defaultGroup: OptGroup<Record<string, unknown>> = {
  name: 'DEFAULT',
  opts: { ...(messagingGroup.opts as Record<string, OptDef>), transport_url: transportUrlOpt } as never,
};

const GROUPS: Record<string, OptGroup<unknown>> = {
  oslo_messaging_rabbit: rabbitGroup as OptGroup<unknown>,
  oslo_messaging_notifications: notificationGroup as OptGroup<unknown>,
  DEFAULT: defaultGroup as OptGroup<unknown>,
};

function compare(version: string, groupName: string, ours: Record<string, OptDef>, theirs: PyOpt[], partial: boolean): void {
  const names = theirs.map((o) => o.name).sort();
  if (partial) {
    // [DEFAULT]: the peer lists only the options osloscope reads there
    for (const name of names) expect(ours[name], `${groupName}.${name} missing from the registry at ${version}`).toBeDefined();
  } else {
    const extra = Object.keys(ours).filter((n) => !names.includes(n) && !(ours[n].backportedTo ?? []).includes(version));
    expect(extra, `registry has options ${version} does not register in [${groupName}]`).toEqual([]);
    const missing = names.filter((n) => ours[n] === undefined);
    expect(missing, `options ${version} registers in [${groupName}] that the registry lacks`).toEqual([]);
  }
  for (const py of theirs) {
    const def = ours[py.name];
    const where = `[${groupName}] ${py.name} at ${version}`;
    expect(def.type, where).toBe(py.type);
    if (def.dynamicDefault === undefined) expect(def.default, `${where} default`).toEqual(py.default);
    expect('min' in def ? def.min : undefined, `${where} min`).toEqual(py.min ?? undefined);
    expect('max' in def ? def.max : undefined, `${where} max`).toEqual(py.max ?? undefined);
    expect('choices' in def ? def.choices : undefined, `${where} choices`).toEqual(py.choices ?? undefined);
    expect(def.deprecatedNames ?? [], `${where} deprecated names`).toEqual(py.deprecated);
    expect(def.deprecatedForRemoval ?? false, `${where} deprecated for removal`).toBe(py.deprecated_for_removal);
    expect(def.secret ?? false, `${where} secret`).toBe(py.secret);
  }
}

describe.skipIf(!hostAvailable).each(pythons)('option registry against the oslo.messaging of %s', (python) => {
  const out = run(python);

  it('runs the peer', () => {
    expect(typeof out === 'string' ? out : '').toBe('');
  });
  if (typeof out === 'string') return;

  it.each(Object.keys(GROUPS))(`has [%s] exactly as oslo.messaging ${out.version} registers it`, (groupName) => {
    const theirs = out.groups[groupName];
    expect(theirs, `the peer reports [${groupName}]`).toBeDefined();
    compare(out.version, groupName, optsAt(GROUPS[groupName], out.version), theirs, groupName === 'DEFAULT');
  });
});
