import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError } from './errors.ts';
import {
  ConfigFileError,
  ConfigFiles,
  DEFAULT_CONFIG_FILE_LIMITS,
  loadOsloConfig,
  parseConfigText,
  pyStr,
  readConfigFile,
  resolveOsloConfig,
  type ConfigFileLimits,
} from './oslo-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'osloscope-oslo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function fromText(text: string, limits: Partial<ConfigFileLimits> = {}) {
  const l = { ...DEFAULT_CONFIG_FILE_LIMITS, ...limits };
  return resolveOsloConfig(new ConfigFiles([parseConfigText(text, 'x.conf', l)]), l);
}

function failure(fn: () => unknown): ConfigFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return err as ConfigFileError;
  }
  throw new Error('expected a ConfigFileError');
}

describe('parseConfigText', () => {
  it('keeps every assignment with its line, under the normalized section name', () => {
    const f = parseConfigText('[Oslo_Messaging_Rabbit]\nssl = 1\n\n[oslo_messaging_rabbit]\nssl = 0\n', 'a.conf');
    expect(f.sections.get('oslo_messaging_rabbit')?.get('ssl')).toEqual([
      { value: '1', file: 'a.conf', line: 2 },
      { value: '0', file: 'a.conf', line: 5 },
    ]);
    expect(f.rawSectionNames).toEqual(['Oslo_Messaging_Rabbit', 'oslo_messaging_rabbit']);
  });

  it('is a ConfigError naming file and line, without the line itself', () => {
    const err = failure(() => parseConfigText('[DEFAULT]\npassword hunter2\n', '/etc/nova/nova.conf'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("/etc/nova/nova.conf:2: No ':' or '=' found in assignment");
    expect(err.file).toBe('/etc/nova/nova.conf');
    expect(err.line).toBe(2);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('limits', () => {
  it('refuses a file larger than the limit before reading it', () => {
    const path = file('big.conf', `[DEFAULT]\nx = ${'a'.repeat(2000)}\n`);
    expect(failure(() => readConfigFile(path, { ...DEFAULT_CONFIG_FILE_LIMITS, maxFileBytes: 1000 })).message).toBe(`${path}: larger than 1000 bytes`);
  });

  it('reads devices and pipes bounded: /dev/null is empty, /dev/zero too big', () => {
    expect(readConfigFile('/dev/null').sections.size).toBe(0);
    expect(failure(() => readConfigFile('/dev/zero', { ...DEFAULT_CONFIG_FILE_LIMITS, maxFileBytes: 100_000 })).message).toBe('/dev/zero: larger than 100000 bytes');
    expect(failure(() => readConfigFile(dir)).message).toBe(`${dir}: cannot read the configuration file: is a directory`);
  });

  it('refuses too many lines and too long values', () => {
    expect(failure(() => fromText('[DEFAULT]\n'.repeat(20), { maxLines: 10 })).message).toContain('more than 10 lines');
    expect(failure(() => fromText(`[DEFAULT]\nx = ${'a'.repeat(50)}\n`, { maxValueLength: 20 })).message).toBe('x.conf:2: the value of x is longer than 20 characters');
    expect(failure(() => fromText('[DEFAULT]\nx = a\n  bbbbbbbbbbbbbbbbbbbb\n', { maxValueLength: 20 })).message).toContain('x.conf:2: the value of x');
  });

  it('stops $ references that nest too deep or grow without bound', () => {
    const chain = ['[DEFAULT]', 'control_exchange = $v0', ...Array.from({ length: 40 }, (_, i) => `v${i} = $v${i + 1}`), 'v40 = end'].join('\n');
    expect(failure(() => fromText(chain)).message).toContain('nested deeper than 32 levels');
    expect(fromText(chain, { maxInterpolationDepth: 64 }).defaults.control_exchange).toBe('end');
    const bomb = ['[DEFAULT]', 'control_exchange = $a0$a0', ...Array.from({ length: 30 }, (_, i) => `a${i} = $a${i + 1}$a${i + 1}`), 'a30 = xxxxxxxx'].join('\n');
    expect(failure(() => fromText(bomb)).message).toContain('grows beyond 65536 characters');
  });

  it('refuses more files than the limit', () => {
    const a = file('one.conf', '[DEFAULT]\n');
    expect(failure(() => ConfigFiles.read([{ kind: 'file', path: a }, { kind: 'file', path: a }], { ...DEFAULT_CONFIG_FILE_LIMITS, maxFiles: 1 })).message).toContain('more than 1 configuration files');
  });

  it('names the line of the first byte that is not UTF-8', () => {
    const path = file('latin1.conf', Buffer.concat([Buffer.from('[DEFAULT]\nx = ok\ny = caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect(failure(() => readConfigFile(path)).message).toBe(`${path}:3: not valid UTF-8`);
  });
});

describe('loadOsloConfig', () => {
  it('reads a nova.conf-like file and reports where each value came from', () => {
    const path = file('nova.conf', '[DEFAULT]\ntransport_url = rabbit://nova:pw@ctl:5672/\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n');
    const c = loadOsloConfig([{ kind: 'file', path }]);
    expect(c.files).toEqual([path]);
    expect(c.defaults).toEqual({ transport_url: 'rabbit://nova:pw@ctl:5672/' });
    expect(c.rabbit).toEqual({ rabbit_quorum_queue: true });
    expect(c.notifications).toEqual({});
    expect(c.origins).toEqual({ 'DEFAULT.transport_url': `${path}:2`, 'oslo_messaging_rabbit.rabbit_quorum_queue': `${path}:4` });
  });

  it('gives both spellings of a renamed quorum option the value, the new name winning', () => {
    expect(fromText('[oslo_messaging_rabbit]\nrabbit_quroum_max_memory_length = 5\n').rabbit).toMatchObject({ rabbit_quroum_max_memory_length: 5, rabbit_quorum_max_memory_length: 5 });
    const both = fromText('[oslo_messaging_rabbit]\nrabbit_quorum_max_memory_bytes = 2\nrabbit_quroum_max_memory_bytes = 1\n');
    expect(both.rabbit).toMatchObject({ rabbit_quroum_max_memory_bytes: 2, rabbit_quorum_max_memory_bytes: 2 });
    expect(both.notes.join('\n')).toContain('rabbit_quroum_max_memory_bytes was renamed');
  });

  it('notes unknown keys in the messaging groups with close matches, never keys of other groups', () => {
    const c = fromText('[DEFAULT]\nmy_ip = 1.2.3.4\n[oslo_messaging_rabbit]\nrabbit_quorum_queues = true\nuse_queue_manger = true\n[oslo_messaging_notifications]\ntopic = x\n');
    const notes = c.notes.join('\n');
    expect(notes).toContain('x.conf:4: [oslo_messaging_rabbit] rabbit_quorum_queues is not an oslo.messaging option and is ignored, as oslo.config ignores it (did you mean rabbit_quorum_queue?)');
    expect(notes).toContain('use_queue_manger');
    expect(notes).toContain('[oslo_messaging_notifications] topic is not an oslo.messaging option');
    expect(notes).not.toContain('my_ip');
  });

  it('never puts a secret value into an error', () => {
    const err = failure(() => fromText('[oslo_messaging_notifications]\ntransport_url = rabbit://u:s3cr$t@h/\n'));
    expect(err.message).not.toContain('s3cr');
    expect(err.message).toContain('[oslo_messaging_notifications] transport_url refers to a $ reference (not shown');
  });
});

describe('pyStr', () => {
  it('writes values as Python str() does for substitution', () => {
    expect(pyStr(true)).toBe('True');
    expect(pyStr(null)).toBe('');
    expect(pyStr(5)).toBe('5');
    expect(pyStr(0.5)).toBe('0.5');
    expect(pyStr(1e-5)).toBe('1e-05');
    expect(pyStr(1e16, true)).toBe('1e+16');
    expect(pyStr(1, true)).toBe('1.0');
    expect(pyStr(['a', "b'c"])).toBe(`['a', "b'c"]`);
  });
});
