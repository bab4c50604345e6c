/**
 * AMQP field-table values as RabbitMQ sees them when amqplib sends a JS
 * value. Needed for argument equivalence (queue.declare) and for the error
 * texts that name a value's AMQP type (`the value '5' of type 'byte'`).
 *
 * amqplib (lib/codec.js encodeFieldValue) picks the narrowest signed integer
 * type for integral numbers, `double` otherwise, and accepts an explicit
 * `{'!': type, value}` wrapper; RabbitMQ names the types as below.
 */

export interface FieldValue {
  type: string;
  value: unknown;
}

const TRAPDOOR_TYPES: Record<string, string> = {
  byte: 'byte',
  int8: 'byte',
  unsignedbyte: 'unsignedbyte',
  uint8: 'unsignedbyte',
  short: 'short',
  int16: 'short',
  unsignedshort: 'unsignedshort',
  uint16: 'unsignedshort',
  int: 'signedint',
  int32: 'signedint',
  unsignedint: 'unsignedint',
  uint32: 'unsignedint',
  long: 'long',
  int64: 'long',
  double: 'double',
  float64: 'double',
  float: 'float',
  timestamp: 'timestamp',
  decimal: 'decimal',
};

function isTrapdoor(v: unknown): v is { '!': string; value: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && Object.hasOwn(v, '!');
}

export function fieldValue(v: unknown): FieldValue {
  if (isTrapdoor(v)) return { type: TRAPDOOR_TYPES[v['!']] ?? v['!'], value: v.value };
  switch (typeof v) {
    case 'string':
      return { type: 'longstr', value: v };
    case 'boolean':
      return { type: 'bool', value: v };
    case 'number':
      if (!Number.isInteger(v)) return { type: 'double', value: v };
      if (v >= -128 && v < 128) return { type: 'byte', value: v };
      if (v >= -0x8000 && v < 0x8000) return { type: 'short', value: v };
      if (v >= -0x80000000 && v < 0x80000000) return { type: 'signedint', value: v };
      return { type: 'long', value: v };
    case 'bigint':
      return { type: 'long', value: Number(v) };
    default:
      if (v === null || v === undefined) return { type: 'void', value: null };
      if (Array.isArray(v)) return { type: 'array', value: v };
      if (Buffer.isBuffer(v)) return { type: 'binary', value: v };
      return { type: 'table', value: v };
  }
}

const INTEGER_TYPES = new Set(['byte', 'unsignedbyte', 'short', 'unsignedshort', 'signedint', 'unsignedint', 'long']);
const FLOAT_TYPES = new Set(['double', 'float']);

/** rabbit_misc type classes: every integer width compares equal to every other. */
function typeClass(type: string): string {
  if (INTEGER_TYPES.has(type)) return 'int';
  if (FLOAT_TYPES.has(type)) return 'float';
  return type;
}

export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  if (typeClass(a.type) !== typeClass(b.type)) return false;
  return deepEqual(a.value, b.value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

function show(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value);
}

/**
 * The `received …` / `current is …` halves of RabbitMQ's inequivalent-arg
 * text: `none` when absent; a bare quoted value when both sides are present;
 * `the value 'X' of type 'T'` when the other side is absent.
 */
export function describeArg(side: FieldValue | undefined, otherPresent: boolean): string {
  if (side === undefined) return 'none';
  if (otherPresent) return `'${show(side.value)}'`;
  return `the value '${show(side.value)}' of type '${side.type}'`;
}
