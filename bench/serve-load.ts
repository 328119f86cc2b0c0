/**
 * Open-loop HTTP load generator for bench/serve.ts (run as its own process so it gets its own core): sends requests
 * at a fixed rate whether or not earlier ones have answered, and measures each latency from its *scheduled* send
 * time, so a stalled server shows up in the percentiles (no coordinated omission).
 *
 *   tsx bench/serve-load.ts '{"base":"http://127.0.0.1:8080","rate":1000,"seconds":5,"mode":"uncached","users":2000}'
 * Prints one JSON line with the results.
 */
import { Agent, request } from 'node:http';

interface Opts {
  base: string;
  rate: number;
  seconds: number;
  /** uncached: warm users with a random exclude (a new cache field each time); cached: a fixed set of lists; fault: cached+uncached GETs with 1 in 5 a POST /interaction. */
  mode: 'uncached' | 'cached' | 'fault';
  users: number;
  seed?: number;
}

const o = JSON.parse(process.argv[2]) as Opts;
const url = new URL(o.base);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
// xorshift32: reproducible request sequence without Math.random
let s = (o.seed ?? 12345) >>> 0 || 1;
const rnd = (n: number) => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  s >>>= 0;
  return s % n;
};

const lat: number[] = [];
const status = new Map<number, number>();
let errors = 0;
let sent = 0;
let done = 0;
let accepted = 0;
let fallbacks = 0;
let cachedResponses = 0;

function fire(scheduled: number): void {
  sent++;
  let method = 'GET';
  let path: string;
  let body: string | undefined;
  const u = rnd(o.users);
  if (o.mode === 'fault' && rnd(5) === 0) {
    method = 'POST';
    path = '/interaction';
    body = JSON.stringify({ user_id: `w${u}`, item_id: rnd(10_000), interaction_type: 'pv' });
  } else if (o.mode === 'cached' || (o.mode === 'fault' && rnd(2) === 0)) {
    path = `/recommendations/c${u}?k=10`;
  } else {
    path = `/recommendations/w${u}?k=10&exclude=${rnd(1_000_000_000)}`;
  }
  const req = request(
    { host: url.hostname, port: url.port, path, method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        done++;
        lat.push(performance.now() - scheduled);
        status.set(res.statusCode ?? 0, (status.get(res.statusCode ?? 0) ?? 0) + 1);
        if (res.statusCode === 202) accepted++;
        if (method === 'GET' && res.statusCode === 200) {
          const t = Buffer.concat(chunks).toString();
          if (t.includes('"fallback":"')) fallbacks++;
          if (t.includes('"cached":true')) cachedResponses++;
        }
      });
    },
  );
  req.on('error', () => {
    done++;
    errors++;
  });
  if (body) req.write(body);
  req.end();
}

const t0 = performance.now();
const end = t0 + o.seconds * 1000;
const interval = 1000 / o.rate;
let next = t0;
const tick = setInterval(() => {
  const now = performance.now();
  while (next <= now && next < end) {
    fire(next);
    next += interval;
  }
  if (now >= end) {
    clearInterval(tick);
    const wait = setInterval(() => {
      if (done >= sent || performance.now() > end + 10_000) {
        clearInterval(wait);
        lat.sort((a, b) => a - b);
        const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] : NaN);
        console.log(
          JSON.stringify({
            mode: o.mode,
            targetRate: o.rate,
            achievedRate: done / o.seconds,
            sent,
            completed: lat.length,
            errors,
            unanswered: sent - done,
            status: Object.fromEntries(status),
            accepted,
            fallbacks,
            cachedResponses,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            max: lat[lat.length - 1],
          }),
        );
        agent.destroy();
      }
    }, 20);
  }
}, 1);
