/**
 * Node scores of one resource, stored sparsely: one score shared by most
 * nodes (`base`) and the nodes that differ from it. A resource in a cluster of
 * thousands of guest nodes usually differs from its default on a handful of
 * nodes (a preference, bans from the cluster nodes), so tables cost per
 * exception, not per node, and the placement code works on the base score
 * once instead of node by node wherever every node is treated alike.
 */

/** The score of a node the resource may not even consider (asymmetric clusters). */
export const ABSENT = -2_000_000_000;

export class NodeScores {
  /**
   * @param base  the score of every node without an exception
   * @param exceptions  node index -> score, for the nodes that differ from `base`
   */
  constructor(
    public base: number = ABSENT,
    readonly exceptions: Map<number, number> = new Map(),
  ) {}

  /** The score on the node with this index (ABSENT when the node is not considered). */
  get(index: number): number {
    const v = this.exceptions.get(index);
    return v === undefined ? this.base : v;
  }

  set(index: number, score: number): void {
    if (score === this.base) this.exceptions.delete(index);
    else this.exceptions.set(index, score);
  }

  /** Whether the node with this index keeps the base score. */
  isBase(index: number): boolean {
    return !this.exceptions.has(index);
  }

  /**
   * Change the base score; the nodes without an exception listed in `keep`
   * keep their current score (they become exceptions).
   */
  rebase(base: number, keep: Iterable<number> = []): void {
    const old = this.base;
    if (base === old) return;
    for (const i of keep) if (!this.exceptions.has(i)) this.exceptions.set(i, old);
    this.base = base;
    for (const [i, v] of this.exceptions) if (v === base) this.exceptions.delete(i);
  }

  clone(): NodeScores {
    return new NodeScores(this.base, new Map(this.exceptions));
  }

  /** Every node's score except ABSENT ones, by node index in `0..count-1` (dense: O(count)). */
  *entries(count: number): IterableIterator<[number, number]> {
    for (let i = 0; i < count; i++) {
      const v = this.get(i);
      if (v !== ABSENT) yield [i, v];
    }
  }
}
