/**
 * The CLI's shared plumbing, in process through main(): each command's
 * --help lists only its own flags, and --json turns every command's error
 * into one JSON object on stderr with the usual exit code.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from './osloscope.ts';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

async function run(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** `--flag` names a help text lists at the start of its lines. */
function flags(help: string): string[] {
  return [...help.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]);
}

describe('osloscope --help per command', () => {
  it('cast --help lists only what cast takes', async () => {
    const r = await run(['cast', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: osloscope cast /);
    expect(flags(r.stdout)).toEqual(expect.arrayContaining(['--topic', '--server', '--fanout', '--method', '--args', '--retry', '--json']));
    expect(flags(r.stdout)).not.toEqual(expect.arrayContaining(['--timeout']));
    expect(r.stdout).not.toMatch(/--timeout|--call-monitor-timeout|--traceback/);
  });

  it('call --help lists call flags and no --fanout', async () => {
    const r = await run(['call', '--help']);
    expect(r.stdout).toMatch(/^usage: osloscope call /);
    expect(r.stdout).toMatch(/--timeout S/);
    expect(r.stdout).toMatch(/--traceback/);
    expect(r.stdout).not.toMatch(/--fanout/);
  });

  it('a flag of another command is a usage error (cast --timeout)', async () => {
    const r = await run(['cast', '--topic', 't', '--method', 'm', '--timeout', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^osloscope: Unknown option '--timeout'/);
  });

  it('ping --help lists ping flags and the exit codes', async () => {
    const r = await run(['ping', '--help']);
    expect(r.code).toBe(0);
    expect(flags(r.stdout)).toEqual(expect.arrayContaining(['--topic', '--server', '--timeout', '--management-url', '--json']));
    expect(r.stdout).toMatch(/exit: 0 every server answered, 3 some did not/);
  });
});

describe('--json errors', () => {
  const json = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0]) as { error: { code: string; message: string } };
  };

  it.each([
    [['call', '--json', '--topic', 't'], 2, 'usage', /--method is required/],
    [['cast', '--json', '--bogus'], 2, 'usage', /Unknown option '--bogus'/],
    [['call', '--json', '--topic', 't', '--method', 'm', '--args', '[1]'], 2, 'usage', /--args must be a JSON object/],
    [['notify', '--json'], 2, 'usage', /required/],
    [['ping', '--json', '--topic', 't', '--timeout', '0'], 2, 'usage', /--timeout must be a number of seconds from 0\.1 to 120/],
    [['tap', '--json', '--count', 'x'], 2, 'usage', /--count must be a positive integer/],
    [['demo', '--json', '--rate', '0'], 2, 'usage', /--rate must be a number/],
    [['nosuch', '--json'], 2, 'usage', /unknown command 'nosuch'/],
    [['record', '--json', '--duration', '0'], 2, 'usage', /^osloscope record: --duration is a number of seconds/],
    [['record', '--json', '--bogus'], 2, 'usage', /^osloscope record: Unknown option '--bogus' \(see osloscope record --help\)$/],
    [['why', '--json', '--bogus'], 2, 'usage', /^osloscope why: Unknown option '--bogus'.* \(see osloscope why --help\)$/],
    [['serve', '--json', '--bogus'], 2, 'usage', /Unknown option '--bogus'/],
  ] as const)('%j → exit %d, {"error":{"code":"%s"}}', async (argv, exit, code, message) => {
    const r = await run([...argv]);
    expect(r.code).toBe(exit);
    const e = json(r.stderr);
    expect(e.error.code).toBe(code);
    expect(e.error.message).toMatch(message);
    // the message is the command's words, never a JSON error inside the JSON error
    expect(e.error.message).not.toMatch(/^\{|"error"/);
    expect(r.stdout).toBe('');
  });

  it('a broker that cannot be reached is exit 5, cannot_connect', async () => {
    const r = await run(['call', '--json', '--topic', 't', '--method', 'm', '--url', 'rabbit://guest:guest@127.0.0.1:1/']);
    expect(r.code).toBe(5);
    const e = json(r.stderr);
    expect(e.error.code).toBe('cannot_connect');
    expect(e.error.message).toMatch(/127\.0\.0\.1:1/);
    expect(r.stderr).not.toContain('guest:guest');
  });

  it('without --json the same errors stay one plain line', async () => {
    const r = await run(['call', '--topic', 't']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('osloscope: --method is required (see --help)\n');
  });
});
