// Test helper (not exported from the package): build an InteractionLog from literal rows.
import type { InteractionLog } from './types.js';

export type Row = [user: number, item: number, category: number, behavior: number, timestamp: number];

export function logOf(rows: Row[]): InteractionLog {
  const n = rows.length;
  const log: InteractionLog = {
    numRows: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    category: new Int32Array(n),
    behavior: new Uint8Array(n),
    timestamp: new Int32Array(n),
  };
  rows.forEach(([u, i, c, b, t], r) => {
    log.user[r] = u;
    log.item[r] = i;
    log.category[r] = c;
    log.behavior[r] = b;
    log.timestamp[r] = t;
  });
  return log;
}
