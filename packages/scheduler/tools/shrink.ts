/**
 * Delta debugging: reduce a failing input to a smaller one that still fails.
 * `ddmin` works on any list of removable items; `shrinkCib` applies it to the
 * units of a FuzzCib (nodes, resources, constraints, status entries,
 * attributes), repeating while removals make further removals possible.
 */
import type { FuzzCib, Unit } from './cib-model';
import { units, withoutUnits } from './cib-model';

export interface ShrinkOptions {
  /** Stop after this many predicate evaluations (default 400). */
  readonly maxTests?: number;
}

export interface DdminResult<T> {
  readonly kept: T[];
  readonly tests: number;
}

/**
 * Zeller's ddmin (complement variant): tries dropping ever smaller chunks of
 * `items` and keeps a removal whenever `stillFails(kept)` holds. The result is
 * 1-minimal (no single item can be removed) unless the test budget ran out.
 */
export async function ddmin<T>(
  items: readonly T[],
  stillFails: (kept: readonly T[]) => Promise<boolean>,
  options: ShrinkOptions = {},
): Promise<DdminResult<T>> {
  const maxTests = options.maxTests ?? 400;
  let kept = [...items];
  let tests = 0;
  let n = 2;
  while (kept.length > 0 && tests < maxTests) {
    const size = Math.ceil(kept.length / n);
    let reduced = false;
    for (let start = 0; start < kept.length && tests < maxTests; start += size) {
      const candidate = kept.slice(0, start).concat(kept.slice(start + size));
      tests++;
      if (await stillFails(candidate)) {
        kept = candidate;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size <= 1) break;
      n = Math.min(kept.length, n * 2);
    }
  }
  return { kept, tests };
}

export interface ShrinkResult {
  readonly cib: FuzzCib;
  readonly tests: number;
  /** Units removed from the original. */
  readonly removed: number;
}

/** Shrink a CIB while `stillFails` holds for the reduced CIB. */
export async function shrinkCib(
  cib: FuzzCib,
  stillFails: (cib: FuzzCib) => Promise<boolean>,
  options: ShrinkOptions = {},
): Promise<ShrinkResult> {
  const maxTests = options.maxTests ?? 400;
  let current = cib;
  let tests = 0;
  const before = units(cib).length;
  while (tests < maxTests) {
    const all = units(current);
    const base = current;
    const r = await ddmin<Unit>(
      all,
      (kept) => {
        const keep = new Set(kept);
        const reduced = withoutUnits(base, new Set(all.filter((u) => !keep.has(u))));
        // a cluster without cluster nodes is no cluster: keep at least one
        if (!reduced.nodes.some((n) => n.kind === 'cluster')) return Promise.resolve(false);
        return stillFails(reduced);
      },
      { maxTests: maxTests - tests },
    );
    tests += r.tests;
    if (r.kept.length === all.length) break;
    const keep = new Set(r.kept);
    current = withoutUnits(base, new Set(all.filter((u) => !keep.has(u))));
  }
  return { cib: current, tests, removed: before - units(current).length };
}
