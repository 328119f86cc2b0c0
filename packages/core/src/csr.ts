/** Item lists per user in CSR form, shared by @rec/env (`excluded()`), @rec/eval (truth) and the models. */
import { check } from './errors.js';

/** Items per user in CSR form: user u's items are `items[offsets[u] .. offsets[u + 1]]`. */
export interface ItemsCsr {
  offsets: Int32Array;
  items: Int32Array;
}

/** Checks the CSR's types and its first and last offsets; returns the number of users. */
export function validateCsr(where: string, csr: ItemsCsr): number {
  check(
    csr && csr.offsets instanceof Int32Array && csr.items instanceof Int32Array,
    where,
    '{ offsets: Int32Array, items: Int32Array }',
    csr,
  );
  const n = csr.offsets.length - 1;
  check(n >= 0 && csr.offsets[0] === 0, where, 'offsets starting at 0', csr.offsets[0]);
  check(csr.offsets[n] === csr.items.length, where, `offsets[last] == items.length (${csr.items.length})`, csr.offsets[n]);
  return n;
}
