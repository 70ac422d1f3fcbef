/** Resource limits of a guest: memory (memtune) and CPU (cputune / schedinfo). */
import { InvalidConfigError } from './errors';
import { block, checkPositiveInt } from './xml';

export interface GuestLimits {
  /** Memory hard limit (cgroup memory.limit_in_bytes / memory.max), MiB. */
  readonly memoryHardLimitMiB?: number;
  /** Memory soft limit (memory.soft_limit_in_bytes / memory.low), MiB. */
  readonly memorySoftLimitMiB?: number;
  /** Memory + swap hard limit, MiB (must be >= the hard limit). */
  readonly memorySwapHardLimitMiB?: number;
  /** Relative CPU weight (cpu.shares; 2-262144, default 1024). */
  readonly cpuShares?: number;
  /** CFS period, microseconds (1000-1000000). */
  readonly cpuPeriodUs?: number;
  /** CFS quota per period, microseconds (>= 1000): quota/period = share of one CPU. */
  readonly cpuQuotaUs?: number;
}

const MAX_MIB = 2 ** 40;

/** Check limits; throws InvalidConfigError naming the field (prefixed by `where`). */
export function checkLimits(where: string, limits: GuestLimits): void {
  const f = (k: keyof GuestLimits): string => `${where}.${k}`;
  if (typeof limits !== 'object' || limits === null) {
    throw new InvalidConfigError(where, 'expected an object');
  }
  const known = new Set([
    'memoryHardLimitMiB',
    'memorySoftLimitMiB',
    'memorySwapHardLimitMiB',
    'cpuShares',
    'cpuPeriodUs',
    'cpuQuotaUs',
  ]);
  for (const key of Object.keys(limits)) {
    if (!known.has(key))
      throw new InvalidConfigError(
        `${where}.${key}`,
        `unknown limit (known: ${[...known].join(', ')})`,
      );
  }
  if (limits.memoryHardLimitMiB !== undefined)
    checkPositiveInt(f('memoryHardLimitMiB'), limits.memoryHardLimitMiB, MAX_MIB);
  if (limits.memorySoftLimitMiB !== undefined)
    checkPositiveInt(f('memorySoftLimitMiB'), limits.memorySoftLimitMiB, MAX_MIB);
  if (limits.memorySwapHardLimitMiB !== undefined) {
    checkPositiveInt(f('memorySwapHardLimitMiB'), limits.memorySwapHardLimitMiB, MAX_MIB);
    if (
      limits.memoryHardLimitMiB !== undefined &&
      limits.memorySwapHardLimitMiB < limits.memoryHardLimitMiB
    ) {
      throw new InvalidConfigError(f('memorySwapHardLimitMiB'), 'must be >= memoryHardLimitMiB');
    }
  }
  if (limits.cpuShares !== undefined) {
    checkPositiveInt(f('cpuShares'), limits.cpuShares, 262144);
    if (limits.cpuShares < 2) throw new InvalidConfigError(f('cpuShares'), 'must be >= 2');
  }
  if (limits.cpuPeriodUs !== undefined) {
    checkPositiveInt(f('cpuPeriodUs'), limits.cpuPeriodUs, 1_000_000);
    if (limits.cpuPeriodUs < 1000)
      throw new InvalidConfigError(f('cpuPeriodUs'), 'must be >= 1000');
  }
  if (limits.cpuQuotaUs !== undefined) {
    checkPositiveInt(f('cpuQuotaUs'), limits.cpuQuotaUs, 17_592_186_044_415);
    if (limits.cpuQuotaUs < 1000) throw new InvalidConfigError(f('cpuQuotaUs'), 'must be >= 1000');
  }
}

/** `<memtune>` and `<cputune>` elements (indented by `n`), or nothing. */
export function limitsXml(n: number, limits: GuestLimits | undefined): string[] {
  if (!limits) return [];
  const out: string[] = [];
  const mem: string[] = [];
  if (limits.memoryHardLimitMiB !== undefined)
    mem.push(`<hard_limit unit='MiB'>${limits.memoryHardLimitMiB}</hard_limit>`);
  if (limits.memorySoftLimitMiB !== undefined)
    mem.push(`<soft_limit unit='MiB'>${limits.memorySoftLimitMiB}</soft_limit>`);
  if (limits.memorySwapHardLimitMiB !== undefined)
    mem.push(`<swap_hard_limit unit='MiB'>${limits.memorySwapHardLimitMiB}</swap_hard_limit>`);
  if (mem.length > 0) out.push('<memtune>', block(2, mem), '</memtune>');
  const cpu: string[] = [];
  if (limits.cpuShares !== undefined) cpu.push(`<shares>${limits.cpuShares}</shares>`);
  if (limits.cpuPeriodUs !== undefined) cpu.push(`<period>${limits.cpuPeriodUs}</period>`);
  if (limits.cpuQuotaUs !== undefined) cpu.push(`<quota>${limits.cpuQuotaUs}</quota>`);
  if (cpu.length > 0) out.push('<cputune>', block(2, cpu), '</cputune>');
  return out.length > 0 ? [block(n, out)] : [];
}

/** virsh arguments that apply limits: a `memtune` command and a `schedinfo` command (either may be absent). */
export function limitsCommands(
  domain: string,
  limits: GuestLimits,
  scope: readonly string[],
): string[][] {
  const commands: string[][] = [];
  const mem: string[] = [];
  // virsh memtune takes KiB.
  if (limits.memoryHardLimitMiB !== undefined)
    mem.push('--hard-limit', String(limits.memoryHardLimitMiB * 1024));
  if (limits.memorySoftLimitMiB !== undefined)
    mem.push('--soft-limit', String(limits.memorySoftLimitMiB * 1024));
  if (limits.memorySwapHardLimitMiB !== undefined)
    mem.push('--swap-hard-limit', String(limits.memorySwapHardLimitMiB * 1024));
  if (mem.length > 0) commands.push(['memtune', domain, ...mem, ...scope]);
  const sched: string[] = [];
  if (limits.cpuShares !== undefined) sched.push(`cpu_shares=${limits.cpuShares}`);
  if (limits.cpuPeriodUs !== undefined) sched.push(`vcpu_period=${limits.cpuPeriodUs}`);
  if (limits.cpuQuotaUs !== undefined) sched.push(`vcpu_quota=${limits.cpuQuotaUs}`);
  if (sched.length > 0) commands.push(['schedinfo', domain, ...scope, ...sched]);
  return commands;
}
