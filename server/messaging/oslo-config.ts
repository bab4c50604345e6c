/**
 * Read a service's oslo.config files (`nova.conf`, `neutron.conf`, a
 * kolla-rendered `/etc/kolla/*`) the way oslo.config reads them, and take from
 * them what the messaging core needs: `[DEFAULT] transport_url`,
 * `control_exchange`, `rpc_response_timeout`, `executor_thread_pool_size`,
 * `rpc_ping_enabled`, every `[oslo_messaging_rabbit]` option of the registry
 * and `[oslo_messaging_notifications]` (driver, transport_url, topics,
 * retry).
 *
 * Followed exactly (oslo.config 9.0.0, unchanged in later releases):
 * - `iniparser.py:BaseParser.parse`: `#`/`;` comments at line start only (a
 *   `#` after a value is part of it), continuation lines start with a space
 *   or tab and are joined with "\n", a blank line or any other line ends a
 *   value, `key = value` or `key: value` (whichever separator comes first),
 *   key and value stripped, one pair of matching quotes around the first
 *   line of a value removed, sections `[name]` taken verbatim;
 * - `cfg.py:ConfigParser`/`_Namespace._get_file_value`: section names are
 *   compared lower-cased except `DEFAULT`, which must be upper case
 *   (`[default]` is another section); the same section may repeat within and
 *   across files; for a single-valued option the LAST file that sets it wins,
 *   within a file the current name wins over deprecated names and the last
 *   occurrence wins; a MultiStrOpt collects every occurrence of every name
 *   from every file, oldest file first, deprecated names before the current
 *   one within a file;
 * - `cfg.py:ConfigOpts._substitute`/`StrSubWrapper` and `string.Template`:
 *   `$name`, `${name}`, `$group.name`, `$$` and `\$` for a literal `$`, a `$`
 *   followed by anything else kept; a name is looked up in the option's
 *   own group, then `[DEFAULT]`; the referenced option's value is converted
 *   by its type and substituted in turn; None becomes "";
 * - `types.py`: Boolean, Integer, Float, String (choices), List, MultiString.
 *
 * Where we go further than oslo.config would with only these options
 * registered: a `$name` that is none of our options resolves to the raw text
 * of that key in the files (`[DEFAULT]` for `$name`, `[group]` for
 * `$group.name`), as it would in the service that registers it (nova's
 * `$my_ip`, `$state_path`). A name set in no file is an error: its default
 * lives in the service's code.
 *
 * Unknown keys: oslo.config ignores keys nobody registered, and every
 * service's file is full of them, so they are never an error here either;
 * in `[oslo_messaging_rabbit]` and `[oslo_messaging_notifications]` they are
 * reported as notes with close matches, because there they are almost always
 * typos (openstack-helm renders `rabbit_quorum_queues`, which oslo silently
 * ignores).
 *
 * Every input is bounded (file size, lines, files, value length,
 * interpolation depth and result size); errors name the file and line and
 * never echo a line or a secret value (a broken `transport_url` line would
 * otherwise print its password).
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { ConfigError } from './errors.ts';
import { TransportURL } from './transport-url.ts';
import {
  closeOptionNames,
  convertOpt,
  deprecatedNamesOf,
  lookup,
  messagingGroup,
  notificationGroup,
  pyStrip,
  rabbitGroup,
  RENAMED_RABBIT_OPTIONS,
  retiredOptionNote,
  transportUrlOpt,
  type MessagingOptions,
  type NotificationOptions,
  type OptDef,
  type OptGroup,
  type RabbitOptions,
} from './options.ts';

// ---------------------------------------------------------------------------
// Limits

export interface ConfigFileLimits {
  /** bytes per file (a full nova.conf sample with every comment is ~0.5 MB) */
  maxFileBytes: number;
  maxLines: number;
  /** files in one load, --config-dir contents included */
  maxFiles: number;
  /** characters of one value, before and after interpolation */
  maxValueLength: number;
  /** nested `$name` references */
  maxInterpolationDepth: number;
}

export const DEFAULT_CONFIG_FILE_LIMITS: ConfigFileLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxLines: 200_000,
  maxFiles: 64,
  maxValueLength: 64 * 1024,
  maxInterpolationDepth: 32,
};

/** A problem in a configuration file: names the file and, where known, the line. */
export class ConfigFileError extends ConfigError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${reason}`, `file:${file}${line === undefined ? '' : `:${line}`}`, options);
  }
}

// ---------------------------------------------------------------------------
// Parsing (iniparser.py + cfg.py:ConfigParser)

/** One `key = value` of a file. */
export interface Assignment {
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

/** One parsed file: normalized section name → key → every assignment, in file order. */
export interface ParsedConfigFile {
  readonly path: string;
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, readonly Assignment[]>>;
  /** section names as written (for notes about `[default]` and the like) */
  readonly rawSectionNames: readonly string[];
}

/** `cfg.py:_normalize_group_name`: lower case, except DEFAULT which must be exact. */
export function normalizeGroupName(name: string): string {
  return name === 'DEFAULT' ? name : name.toLowerCase();
}

const PY_WS = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const RSTRIP_RE = new RegExp(`${PY_WS}+$`);
const LSTRIP_RE = new RegExp(`^${PY_WS}+`);

/** Parse the text of one file. `path` is used in errors only. */
export function parseConfigText(text: string, path: string, limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): ParsedConfigFile {
  const sections = new Map<string, Map<string, Assignment[]>>();
  const rawSectionNames: string[] = [];
  // Python's text mode turns \r\n and \r into \n; no other character ends a line.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > limits.maxLines) throw new ConfigFileError(path, undefined, `more than ${limits.maxLines} lines`);

  let section: string | null = null;
  let key: string | null = null;
  let keyLine = 0;
  let value: string[] = [];
  let valueLength = 0;
  const fail = (lineno: number, reason: string): never => {
    throw new ConfigFileError(path, lineno, reason);
  };

  const flush = () => {
    if (key === null) return;
    // cfg.py:ConfigParser.assignment (oslo reports the line that ended the value)
    if (section === null) fail(keyLine, 'Section must be started before assignment');
    const bucket = sections.get(normalizeGroupName(section!))!;
    const list = bucket.get(key) ?? [];
    list.push({ value: value.join('\n'), file: path, line: keyLine });
    bucket.set(key, list);
    key = null;
    value = [];
    valueLength = 0;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    const line = lines[i].replace(RSTRIP_RE, '');
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (key === null) fail(lineno, 'Unexpected continuation line');
      const part = line.replace(LSTRIP_RE, '');
      valueLength += part.length + 1;
      if (valueLength > limits.maxValueLength) fail(keyLine, `the value of ${key} is longer than ${limits.maxValueLength} characters`);
      value.push(part);
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) fail(lineno, 'Invalid section (must end with ])');
      if (line.length <= 2) fail(lineno, 'Empty section name');
      section = line.slice(1, -1);
      rawSectionNames.push(section);
      const normalized = normalizeGroupName(section);
      if (!sections.has(normalized)) sections.set(normalized, new Map());
    } else if (line.startsWith('#') || line.startsWith(';')) {
      // comment
    } else {
      const colon = line.indexOf(':');
      const equal = line.indexOf('=');
      if (colon < 0 && equal < 0) {
        fail(lineno, lineno === 1 && line.startsWith('\ufeff') ? "the file starts with a byte-order mark, which oslo.config refuses too (save it as UTF-8 without BOM)" : "No ':' or '=' found in assignment");
      }
      const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
      const k = pyStrip(line.slice(0, at));
      let v = pyStrip(line.slice(at + 1));
      if (v.length > 0 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
      if (k === '') fail(lineno, 'Key cannot be empty');
      if (v.length > limits.maxValueLength) fail(lineno, `the value of ${k} is longer than ${limits.maxValueLength} characters`);
      key = k;
      keyLine = lineno;
      value = [v];
      valueLength = v.length;
    }
  }
  flush();
  return { path, sections, rawSectionNames };
}

// ---------------------------------------------------------------------------
// Reading files and directories

/** A `--config-file PATH` or `--config-dir DIR`, in command-line order. */
export type ConfigSource = { kind: 'file'; path: string } | { kind: 'dir'; path: string };

/**
 * `--config-file` / `--config-dir` options of a node:util parseArgs token
 * list, in command-line order (oslo.config reads them in that order).
 */
export function configSourcesFromTokens(tokens: readonly { kind: string; name?: string; value?: string }[] | undefined): ConfigSource[] {
  const sources: ConfigSource[] = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'config-file') sources.push({ kind: 'file', path: t.value });
    else if (t.name === 'config-dir') sources.push({ kind: 'dir', path: t.value });
  }
  return sources;
}

/** `cfg.py:_fixpath`: ~ expansion, then absolute. */
function fixPath(p: string): string {
  const expanded = p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
  return resolve(expanded);
}

/**
 * The files `sources` stand for, in oslo.config's order: each file where it
 * stands, each directory as its `*.conf` files (not hidden ones), sorted by
 * code point as Python's `sorted(glob.glob(...))`.
 */
export function expandConfigSources(sources: readonly ConfigSource[], limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): string[] {
  const out: string[] = [];
  for (const source of sources) {
    const path = fixPath(source.path);
    if (source.kind === 'file') {
      out.push(path);
    } else {
      let entries: string[];
      try {
        entries = readdirSync(path);
      } catch (cause) {
        throw new ConfigFileError(path, undefined, `cannot read the configuration directory: ${errnoText(cause)}`, { cause });
      }
      const confs = entries.filter((n) => n.endsWith('.conf') && !n.startsWith('.')).sort(codePointCompare);
      out.push(...confs.map((n) => join(path, n)));
    }
    if (out.length > limits.maxFiles) throw new ConfigFileError(path, undefined, `more than ${limits.maxFiles} configuration files`);
  }
  return out;
}

function codePointCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) ?? 0) - (y[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'not a directory';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Read and parse one file, bounded, as UTF-8 (what Python's open() uses
 * here). At most maxFileBytes + 1 bytes are read, so a device or a pipe
 * (`--config-file <(...)`, /dev/null) works and /dev/zero cannot exhaust memory.
 */
export function readConfigFile(path: string, limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): ParsedConfigFile {
  const tooBig = () => new ConfigFileError(path, undefined, `larger than ${limits.maxFileBytes} bytes`);
  let bytes: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (st.isFile() && st.size > limits.maxFileBytes) throw tooBig();
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(limits.maxFileBytes + 1, Math.max(st.isFile() ? st.size + 1 : 64 * 1024, 1)));
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        total += n;
        if (total > limits.maxFileBytes) throw tooBig();
        chunks.push(Buffer.from(buffer.subarray(0, n)));
      }
      bytes = Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  } catch (cause) {
    if (cause instanceof ConfigFileError) throw cause;
    throw new ConfigFileError(path, undefined, `cannot read the configuration file: ${errnoText(cause)}`, { cause });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new ConfigFileError(path, badUtf8Line(bytes), 'not valid UTF-8', { cause });
  }
  return parseConfigText(text, path, limits);
}

/** The line of the first byte that is not valid UTF-8. */
function badUtf8Line(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return line;
}

// ---------------------------------------------------------------------------
// Looking values up (cfg.py:_Namespace._get_file_value)

/** The parsed files of one load, oldest first. */
export class ConfigFiles {
  constructor(readonly files: readonly ParsedConfigFile[]) {}

  static read(sources: readonly ConfigSource[], limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): ConfigFiles {
    return new ConfigFiles(expandConfigSources(sources, limits).map((p) => readConfigFile(p, limits)));
  }

  /**
   * The assignments oslo.config uses for an option known by `names`
   * (`[group, name]`, current name first, then deprecated ones): for a
   * single-valued option, the last assignment of the first name set in the
   * newest file that sets any; for a multi-valued one, all of them in
   * oslo's order. Undefined when no file sets it.
   */
  find(names: readonly (readonly [string, string])[], multi: boolean): Assignment[] | undefined {
    const normalized = names.map(([g, n]) => [normalizeGroupName(g), n] as const);
    let collected: Assignment[] = [];
    for (let f = this.files.length - 1; f >= 0; f--) {
      const sections = this.files[f].sections;
      for (const [group, name] of normalized) {
        const found = sections.get(group)?.get(name);
        if (found === undefined) continue;
        if (!multi) return [found[found.length - 1]];
        collected = [...found, ...collected];
      }
    }
    return multi && collected.length > 0 ? collected : undefined;
  }

  /** Every key set in `group` in any file. */
  keysOf(group: string): Map<string, Assignment> {
    const out = new Map<string, Assignment>();
    for (const file of this.files) {
      for (const [key, list] of file.sections.get(normalizeGroupName(group)) ?? []) out.set(key, list[list.length - 1]);
    }
    return out;
  }

  get paths(): string[] {
    return this.files.map((f) => f.path);
  }
}

// ---------------------------------------------------------------------------
// Options, values and interpolation

interface Registered {
  readonly group: string;
  readonly name: string;
  readonly def: OptDef;
}

/** The groups and options osloscope registers, as a service would register them. */
const DEFAULT_OPTS: Record<string, OptDef> = { ...(messagingGroup.opts as Record<string, OptDef>), transport_url: transportUrlOpt };
const REGISTERED: ReadonlyMap<string, Record<string, OptDef>> = new Map([
  ['DEFAULT', DEFAULT_OPTS],
  [rabbitGroup.name, rabbitGroup.opts as Record<string, OptDef>],
  [notificationGroup.name, notificationGroup.opts as Record<string, OptDef>],
]);

function registered(group: string, name: string): Registered | undefined {
  const opts = REGISTERED.get(group);
  if (opts === undefined || !Object.hasOwn(opts, name)) return undefined;
  return { group, name, def: opts[name] };
}

/** `Opt._get_from_namespace`: the option's own name, then each deprecated (group, name). */
function namesOf(opt: Registered): [string, string][] {
  const names: [string, string][] = [[opt.group, opt.name]];
  for (const d of opt.def.deprecatedNames ?? []) {
    if (d.group === null && d.name === null) continue;
    names.push([d.group ?? opt.group, d.name ?? opt.name]);
  }
  return names;
}

// string.Template with oslo's idpattern `[_a-z][\._a-z0-9]*` (re.IGNORECASE)
const TEMPLATE_RE = /\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\}|)/gi;

type Value = boolean | number | string | null | string[];

/** A value oslo.config computed for an option, and where it came from. */
interface Resolved {
  value: Value;
  from?: Assignment;
  fromFile: boolean;
}

class Resolver {
  private readonly stack: string[] = [];
  readonly notes: string[] = [];

  constructor(
    private readonly files: ConfigFiles,
    private readonly limits: ConfigFileLimits,
  ) {}

  /** `ConfigOpts._do_get` for a registered option: file value (substituted, converted) or the default. */
  get(opt: Registered): Resolved {
    const found = this.files.find(namesOf(opt), opt.def.type === 'multistring');
    if (found === undefined) {
      const d = opt.def.default;
      return { value: Array.isArray(d) ? [...d] : (d as Value), fromFile: false };
    }
    const label = `[${opt.group}] ${opt.name}`;
    this.enter(label, found[0]);
    try {
      if (opt.def.type === 'multistring') {
        const values = found.map((a) => this.substitute(a.value, opt.group, a, opt.def.secret === true, label));
        return { value: values, from: found[found.length - 1], fromFile: true };
      }
      const a = found[0];
      const text = this.substitute(a.value, opt.group, a, opt.def.secret === true, label);
      return { value: this.convert(opt, text, a), from: a, fromFile: true };
    } finally {
      this.stack.pop();
    }
  }

  private enter(label: string, at: Assignment): void {
    if (this.stack.includes(label)) {
      throw new ConfigFileError(at.file, at.line, `${label} refers to itself through ${[...this.stack.slice(this.stack.indexOf(label)), label].join(' -> ')}`);
    }
    if (this.stack.length >= this.limits.maxInterpolationDepth) {
      throw new ConfigFileError(at.file, at.line, `$ references nested deeper than ${this.limits.maxInterpolationDepth} levels at ${label}`);
    }
    this.stack.push(label);
  }

  private convert(opt: Registered, text: string, at: Assignment): Value {
    try {
      return convertOpt(opt.def, text) as Value;
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      // oslo: ConfigFileValueError "Value for option X from ... is not valid: ..."
      const shown = opt.def.secret ? 'a value (secret, not shown) that is not valid' : `an invalid value: ${reason}`;
      throw new ConfigFileError(at.file, at.line, `[${opt.group}] ${opt.name} has ${shown}`, { cause });
    }
  }

  /** `ConfigOpts._substitute` + `string.Template.safe_substitute` + `StrSubWrapper`. */
  private substitute(text: string, group: string, at: Assignment, secret: boolean, label: string): string {
    const source = text.replaceAll('\\$', '$$');
    if (!source.includes('$')) return source;
    let out = '';
    let last = 0;
    for (const m of source.matchAll(TEMPLATE_RE)) {
      out += source.slice(last, m.index);
      last = m.index + m[0].length;
      if (m[1] !== undefined) out += '$';
      else if (m[2] !== undefined || m[3] !== undefined) out += this.reference(m[2] ?? m[3], group, at, secret, label);
      else out += '$';
      if (out.length > this.limits.maxValueLength) {
        throw new ConfigFileError(at.file, at.line, `${label} grows beyond ${this.limits.maxValueLength} characters through $ references`);
      }
    }
    out += source.slice(last);
    if (out.length > this.limits.maxValueLength) {
      throw new ConfigFileError(at.file, at.line, `${label} grows beyond ${this.limits.maxValueLength} characters through $ references`);
    }
    return out;
  }

  /** The text `$key` stands for inside an option of `group`. */
  private reference(key: string, group: string, at: Assignment, secret: boolean, label: string): string {
    const dot = key.indexOf('.');
    let opt: Registered | undefined;
    let rawGroup: string;
    let rawName: string;
    if (dot < 0) {
      opt = registered(group, key) ?? registered('DEFAULT', key);
      rawGroup = 'DEFAULT';
      rawName = key;
      if (opt === undefined && REGISTERED.has(key)) {
        throw new ConfigFileError(at.file, at.line, `${label}: substituting group ${secret ? '(in a secret value)' : key} not supported`);
      }
    } else {
      const g = key.slice(0, dot);
      rawGroup = g;
      rawName = key.slice(dot + 1);
      // StrSubWrapper looks the group up by its exact registered name, and
      // DEFAULT is no registered group: oslo raises NoSuchGroupError.
      if (g === 'DEFAULT' || (g !== g.toLowerCase() && REGISTERED.has(g.toLowerCase()))) {
        const shown = secret ? 'a $group.name reference (not shown: the value is secret)' : `$${key}`;
        throw new ConfigFileError(at.file, at.line, `${label} refers to ${shown}, but oslo.config has no group named exactly ${secret ? 'so' : g}${g === 'DEFAULT' ? ` (write $${secret ? 'name' : rawName})` : ''}`);
      }
      opt = registered(g, rawName);
    }
    if (opt !== undefined) return pyStr(this.get(opt).value, opt.def.type === 'float');
    // Not one of our options: the service that owns it would read it from the
    // same files; a StrOpt reads the raw text, substituted in its own group.
    const raw = this.files.find([[rawGroup, rawName]], false);
    if (raw === undefined) {
      const what = secret
        ? 'a $ reference (not shown: the value is secret) that is set in none of the files'
        : `$${key}, which is set in none of the files (if it is an option of the service, osloscope cannot know its default)`;
      throw new ConfigFileError(at.file, at.line, `${label} refers to ${what}; write $$ for a literal $`);
    }
    const refLabel = `[${rawGroup}] ${rawName}`;
    this.enter(refLabel, raw[0]);
    try {
      return this.substitute(raw[0].value, rawGroup === 'DEFAULT' ? 'DEFAULT' : normalizeGroupName(rawGroup), raw[0], secret, refLabel);
    } finally {
      this.stack.pop();
    }
  }
}

/** Python str() of a converted option value (`float`: the value is a Python float, so 1 is "1.0"). */
export function pyStr(value: Value, float = false): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return !float && Number.isInteger(value) ? String(value) : pyFloatRepr(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyStrRepr(v)).join(', ')}]`;
  return value;
}

function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const exp = x === 0 ? 0 : Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 16) {
    const [m, e] = x.toExponential().split('e');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  return quote + s.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`).replaceAll('\n', '\\n').replaceAll('\t', '\\t').replaceAll('\r', '\\r') + quote;
}

// ---------------------------------------------------------------------------
// What the messaging core takes from the files

/** `[DEFAULT]` options osloscope reads from files. */
export type FileDefaultOptions = Partial<MessagingOptions> & { transport_url?: string };

export interface OsloFileConfig {
  /** the files read, in merge order (later ones win) */
  readonly files: readonly string[];
  /** only options some file sets; defaults are left to the caller */
  readonly defaults: FileDefaultOptions;
  readonly rabbit: Partial<RabbitOptions>;
  readonly notifications: Partial<NotificationOptions>;
  /** `group.name` → `file:line` of the value used */
  readonly origins: Readonly<Record<string, string>>;
  /** things worth telling the operator: ignored keys, old names, retired options */
  readonly notes: readonly string[];
}

/**
 * Read `sources` (in command-line order) and resolve every option osloscope
 * reads. Throws ConfigFileError (a ConfigError) naming file and line.
 */
export function loadOsloConfig(sources: readonly ConfigSource[], limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): OsloFileConfig {
  return resolveOsloConfig(ConfigFiles.read(sources, limits), limits);
}

export function resolveOsloConfig(files: ConfigFiles, limits: ConfigFileLimits = DEFAULT_CONFIG_FILE_LIMITS): OsloFileConfig {
  const resolver = new Resolver(files, limits);
  const origins: Record<string, string> = {};
  const notes: string[] = [];
  const take = <T>(group: string, opts: Record<string, OptDef>): Partial<T> => {
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(opts)) {
      const opt = registered(group, name)!;
      const r = resolver.get(opt);
      if (!r.fromFile) continue;
      out[name] = r.value;
      if (r.from) {
        origins[`${group}.${name}`] = `${r.from.file}:${r.from.line}`;
        const usedName = usedNameOf(files, opt, r.from);
        if (usedName !== undefined) notes.push(`${r.from.file}:${r.from.line}: ${usedName}`);
      }
    }
    return out as Partial<T>;
  };

  const defaults = take<FileDefaultOptions>('DEFAULT', DEFAULT_OPTS);
  const rabbit = take<RabbitOptions>(rabbitGroup.name, rabbitGroup.opts as Record<string, OptDef>);
  const notifications = take<NotificationOptions>(notificationGroup.name, notificationGroup.opts as Record<string, OptDef>);

  // Both spellings of a renamed option carry one value; oslo.config prefers
  // the current name when a file sets both.
  for (const [oldName, newName] of Object.entries(RENAMED_RABBIT_OPTIONS)) {
    const r = rabbit as Record<string, unknown>;
    const chosen = r[newName] !== undefined ? r[newName] : r[oldName];
    if (chosen === undefined) continue;
    r[newName] = chosen;
    r[oldName] = chosen;
  }

  for (const name of Object.keys(rabbit)) {
    const note = retiredOptionNote(rabbitGroup, name);
    if (note !== undefined && origins[`${rabbitGroup.name}.${name}`]) notes.push(`${origins[`${rabbitGroup.name}.${name}`]}: ${note}`);
  }
  notes.push(...unknownKeyNotes(files, rabbitGroup as OptGroup<unknown>), ...unknownKeyNotes(files, notificationGroup as OptGroup<unknown>));
  for (const file of files.files) {
    for (const raw of file.rawSectionNames) {
      if (raw !== 'DEFAULT' && raw.toLowerCase() === 'default') {
        notes.push(`${file.path}: section [${raw}] is not [DEFAULT] (oslo.config matches DEFAULT case-sensitively) and is ignored`);
      } else if (raw !== pyStrip(raw) && REGISTERED.has(normalizeGroupName(pyStrip(raw)))) {
        notes.push(`${file.path}: section [${raw}] has spaces inside the brackets; oslo.config reads it as another section and ignores it`);
      }
    }
  }
  return { files: files.paths, defaults, rabbit, notifications, origins, notes: [...new Set(notes)] };
}

/** A note when the value came from a deprecated name or group. */
function usedNameOf(files: ConfigFiles, opt: Registered, from: Assignment): string | undefined {
  for (const [group, name] of namesOf(opt).slice(1)) {
    const found = files.find([[group, name]], false);
    if (found !== undefined && found[0] === from) {
      return `[${group}] ${name} is an old name of [${opt.group}] ${opt.name}${oldNameGone(opt, group, name)}`;
    }
  }
  return undefined;
}

function oldNameGone(opt: Registered, group: string, name: string): string {
  const map = deprecatedNamesOf({ name: opt.group, opts: REGISTERED.get(opt.group)! } as OptGroup<unknown>);
  const removed = map.get(`${group}/${name}`)?.removedIn;
  return removed ? ` (oslo.messaging ${removed} and later ignore the old name)` : '';
}

/** Keys of `group` in the files that no release registers: ignored by oslo.config, named here with close matches. */
function unknownKeyNotes(files: ConfigFiles, group: OptGroup<unknown>): string[] {
  const deprecated = deprecatedNamesOf(group);
  const notes: string[] = [];
  for (const [key, at] of files.keysOf(group.name)) {
    if (lookup(group, key) !== undefined || deprecated.has(`${group.name}/${key}`)) continue;
    const close = closeOptionNames(group, key);
    notes.push(
      `${at.file}:${at.line}: [${group.name}] ${key} is not an oslo.messaging option and is ignored, as oslo.config ignores it` +
        (close.length > 0 ? ` (did you mean ${close.join(', ')}?)` : ''),
    );
  }
  return notes;
}

// ---------------------------------------------------------------------------
// Precedence: explicit settings, then files, then defaults

/** One place a setting may come from, most important first. */
export interface SettingCandidate {
  readonly value: string | undefined;
  /** where it came from, for errors: `--url`, `TRANSPORT_URL`, `/etc/nova/nova.conf:3` */
  readonly source: string;
}

/**
 * The transport URL of the first candidate that has one, parsed with the
 * files' `[oslo_messaging_rabbit]` options as overrides (its query wins, as
 * in oslo's ConfigOptsProxy). A bad URL is a ConfigError naming where it came
 * from; TransportURL's messages never contain a password.
 */
export function transportUrlFrom(candidates: readonly SettingCandidate[], rabbit: Partial<RabbitOptions> = {}): { url: TransportURL; source: string } {
  const chosen = candidates.find((c) => c.value !== undefined && c.value !== '');
  if (chosen === undefined) throw new ConfigError('no transport URL given', 'url');
  try {
    return { url: TransportURL.parse(chosen.value!, rabbit), source: chosen.source };
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`transport URL from ${chosen.source}: ${reason}`, err instanceof ConfigError ? err.part : 'url', { cause: err });
  }
}

/** `origins` key → `file:line` helper: where a file value came from, or a generic label. */
export function originOf(config: OsloFileConfig, group: string, name: string): string {
  return config.origins[`${group}.${name}`] ?? `[${group}] ${name} in ${config.files.join(', ')}`;
}
