// Figures, not verdicts: one JSON line per figure on stdout, percentiles, and a process's resident memory.
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

/** Prints one figure as a JSON line: `{"bench":"turn-latency","subject":"bot",...}`. */
export function figure(bench: string, fields: Record<string, number | string | boolean | undefined>): void {
  process.stdout.write(`${JSON.stringify({ bench, ...fields })}\n`);
}

/** Progress for the person watching, on stderr (stdout carries only figures). */
export function note(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** Nearest-rank percentile of already sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)),
    mean: round(mean), max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** Resident set size of a process in MB (Linux /proc), or NaN when it cannot be read. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? Number.NaN : round(Number(kb) / 1024, 1);
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `intervalMs` and keeps the peak. */
export class RssSampler {
  peak: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number | undefined, intervalMs = 50) {
    this.peak = rssMb(pid);
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): number {
    const now = rssMb(this.pid);
    if (!(now <= this.peak)) this.peak = Number.isNaN(this.peak) ? now : Math.max(this.peak, now);
    return now;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the figures were taken on. */
export function machine(): Record<string, string | number> {
  const sh = (cmd: string): string => {
    try {
      return execSync(cmd, { encoding: "utf8" }).trim();
    } catch {
      return "?";
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: sh("nproc"),
    cpu: os.cpus()[0]?.model ?? "?",
    memTotal: sh("free -h | awk '/^Mem:/ {print $2}'"),
    memAvailable: sh("free -h | awk '/^Mem:/ {print $7}'"),
    node: process.version,
    load: os.loadavg().map((l) => l.toFixed(2)).join(" "),
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** CPU seconds a process used so far, in user mode and in the kernel (system: fsyncs, sockets, page faults). */
export function cpuSplit(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: Number.NaN, system: Number.NaN };
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return { user: user / 1e6, system: system / 1e6 };
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/** CPU use of processes over an interval, as % of one core. */
export class CpuMeter {
  private readonly start: Map<number, { user: number; system: number }>;
  private readonly startedAt = performance.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.start = new Map(Object.values(pids).flatMap((pid) => (pid === undefined ? [] : [[pid, cpuSplit(pid)]])));
  }

  /**
   * `{ <name>CpuPct }` for each process since construction; with `work` (e.g. turns done), also
   * `{ <name>CpuMsPer }`: CPU milliseconds per unit of work, a figure the machine's load disturbs much less.
   */
  read(work?: number): Record<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      if (pid === undefined) continue;
      const now = cpuSplit(pid);
      const start = this.start.get(pid) ?? { user: 0, system: 0 };
      const system = now.system - start.system;
      const used = now.user - start.user + system;
      out[`${name}CpuPct`] = round((used / seconds) * 100, 0);
      if (work !== undefined && work > 0) {
        out[`${name}CpuMsPer`] = round((used * 1000) / work, 3);
        out[`${name}SysMsPer`] = round((system * 1000) / work, 3); // of CpuMsPer: in the kernel
      }
    }
    return out;
  }
}
