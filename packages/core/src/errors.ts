/**
 * One error base for every @rec package. `isInstance` works across duplicate copies of this package
 * (two versions in one node_modules tree) because it checks a `Symbol.for` marker, not the prototype chain.
 */
const MARKER = Symbol.for('@rec/core.RecError');

export interface RecErrorDetails {
  /** Where it happened: a function, file and line, route, or config key. */
  where: string;
  /** What was expected there. */
  expected?: string;
  /** What was got instead. */
  got?: unknown;
  /** What the caller can do about it. */
  hint?: string;
  cause?: unknown;
}

function describeGot(got: unknown): string {
  if (typeof got === 'string') return JSON.stringify(got.length > 120 ? `${got.slice(0, 117)}...` : got);
  if (typeof got === 'number' || typeof got === 'boolean' || got === null || got === undefined) return String(got);
  if (ArrayBuffer.isView(got)) return `${got.constructor.name}(${(got as unknown as { length: number }).length})`;
  if (Array.isArray(got)) return `array of length ${got.length}`;
  try {
    const s = JSON.stringify(got);
    return s.length > 160 ? `${s.slice(0, 157)}...` : s;
  } catch {
    return Object.prototype.toString.call(got);
  }
}

export function formatErrorMessage(summary: string, d: RecErrorDetails): string {
  const parts = [`${d.where}: ${summary}`];
  if (d.expected !== undefined) parts.push(`expected ${d.expected}`);
  if ('got' in d) parts.push(`got ${describeGot(d.got)}`);
  let msg = parts.join('; ');
  if (d.hint) msg += `. ${d.hint}`;
  return msg;
}

export class RecError extends Error {
  readonly [MARKER] = true;
  readonly code: string = 'REC_ERROR';
  readonly where: string;
  readonly expected?: string;
  readonly got?: unknown;
  readonly hint?: string;

  constructor(summary: string, details: RecErrorDetails) {
    super(formatErrorMessage(summary, details), details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = new.target.name;
    this.where = details.where;
    this.expected = details.expected;
    this.got = details.got;
    this.hint = details.hint;
  }

  /** True for any RecError, also one thrown by another copy of @rec/core. */
  static isInstance(value: unknown): value is RecError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A function or constructor argument, or config value, is out of its domain. */
export class InvalidArgumentError extends RecError {
  override readonly code = 'REC_INVALID_ARGUMENT';
}
/** Tensor or typed-array shapes do not line up. */
export class ShapeError extends RecError {
  override readonly code = 'REC_SHAPE';
}
/** Input data (a CSV row, a JSON file) is malformed. */
export class DataFormatError extends RecError {
  override readonly code = 'REC_DATA_FORMAT';
}
/** A requested backend, optional package or file is not available. */
export class NotAvailableError extends RecError {
  override readonly code = 'REC_NOT_AVAILABLE';
}
/** A saved model or checkpoint does not match what the loader expects. */
export class ModelFormatError extends RecError {
  override readonly code = 'REC_MODEL_FORMAT';
}
/** The environment or a custom environment breaks the contract. */
export class EnvContractError extends RecError {
  override readonly code = 'REC_ENV_CONTRACT';
}
/** An operation ran past its deadline. */
export class TimeoutError extends RecError {
  override readonly code = 'REC_TIMEOUT';
}

/** Throw InvalidArgumentError unless `cond` holds. */
export function check(cond: unknown, where: string, expected: string, got: unknown, hint?: string): asserts cond {
  if (!cond) throw new InvalidArgumentError('invalid argument', { where, expected, got, hint });
}

export function checkPositiveInt(value: unknown, where: string): asserts value is number {
  check(typeof value === 'number' && Number.isInteger(value) && value > 0, where, 'a positive integer', value);
}

export function checkFinite(value: unknown, where: string): asserts value is number {
  check(typeof value === 'number' && Number.isFinite(value), where, 'a finite number', value);
}

export function checkInRange(value: unknown, lo: number, hi: number, where: string): asserts value is number {
  check(typeof value === 'number' && value >= lo && value <= hi, where, `a number in [${lo}, ${hi}]`, value);
}
