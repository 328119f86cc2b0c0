import { describe, expect, it } from 'vitest';
import { RecError, InvalidArgumentError, DataFormatError, check } from './errors.js';

describe('RecError', () => {
  it('says where, what was expected, what was got and what to do', () => {
    const e = new DataFormatError('bad row', { where: 'data.csv:12', expected: '5 fields', got: 'a,b', hint: 'Fix or drop the row.' });
    expect(e.message).toBe('data.csv:12: bad row; expected 5 fields; got "a,b". Fix or drop the row.');
    expect(e.name).toBe('DataFormatError');
    expect(e.code).toBe('REC_DATA_FORMAT');
    expect(e).toBeInstanceOf(RecError);
  });

  it('is recognised across duplicate package copies by its Symbol.for marker', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@rec/core.RecError')]: true });
    expect(RecError.isInstance(foreign)).toBe(true);
    expect(RecError.isInstance(new Error('x'))).toBe(false);
    expect(RecError.isInstance(null)).toBe(false);
  });

  it('check throws InvalidArgumentError with the got value', () => {
    expect(() => check(false, 'f(k)', 'k in 1..100', 0)).toThrow(InvalidArgumentError);
    expect(() => check(false, 'f(k)', 'k in 1..100', new Float32Array(3))).toThrow(/got Float32Array\(3\)/);
  });
});
