import { CASES } from './cases';

/**
 * Runs one hostile case (argv[2]) and prints one JSON line: the error it ended with (or its result), the time the
 * reader took, and the memory: resident before the reader ran, and the process's peak resident size after.
 */
const name = process.argv[2]!;
const c = CASES[name];
if (!c) throw new Error(`no case ${name}`);
const input = c.build();
globalThis.gc?.();
const before = process.memoryUsage().rss;
const peakBefore = process.resourceUsage().maxRSS * 1024;
const t0 = performance.now();
let result: unknown;
let error: string | undefined;
let errorClass: string | undefined;
try {
  result = await c.run(input);
} catch (e) {
  error = e instanceof Error ? e.message : String(e);
  errorClass = e instanceof Error ? e.constructor.name : typeof e;
}
const ms = performance.now() - t0;
const peak = process.resourceUsage().maxRSS * 1024;
const mb = (x: number) => Math.round(x / 2 ** 20);
// The growth of the peak over what was resident before the reader ran: an upper bound on what the reader took.
process.stdout.write(
  JSON.stringify({
    name,
    result,
    error,
    errorClass,
    ms,
    beforeMB: mb(before),
    peakMB: mb(peak),
    growthMB: mb(peak - before),
    buildPeakMB: mb(peakBefore),
  }) + '\n',
);
