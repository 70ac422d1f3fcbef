/**
 * The colocations a resource takes part in, in the order Pacemaker 2.1.5
 * considers them: "this with" lists sorted by the primary (higher priority
 * first, then clones before groups before primitives, then id), "with this"
 * lists by the dependent; among colocations with the same resource the latest
 * comes first (as a sorted insertion puts it). A group's own colocations count
 * as its first member's ("group with R") and last member's ("R with group"):
 * they are inserted one by one into the member's sorted list, each before the
 * member's own and the group's earlier-inserted ones of equal priority, so
 * among equals the group's come first and in configuration order.
 */
import type { Coloc, Rsc } from './model';
import { INF } from './model';

const VARIANT: Record<Rsc['kind'], number> = { primitive: 0, group: 1, clone: 2 };

function promotable(r: Rsc): boolean {
  return r.kind === 'clone' && (r.meta.promotable ?? '').toLowerCase() === 'true';
}

/** Negative when `a` comes first: higher priority, then variant, promotable clones, id. */
export function compareByPriority(a: Rsc, b: Rsc): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
  const va = VARIANT[a.kind];
  const vb = VARIANT[b.kind];
  if (va !== vb) return va > vb ? -1 : 1;
  if (a.kind === 'clone' && promotable(a) !== promotable(b)) return promotable(a) ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function sortedBy(list: readonly Coloc[], side: 'primary' | 'dependent'): Coloc[] {
  return [...list].reverse().sort((x, y) => compareByPriority(x[side], y[side]));
}

function lastChild(rsc: Rsc): Rsc | undefined {
  return rsc.kind === 'group' ? rsc.children[rsc.children.length - 1] : undefined;
}

/**
 * Whether a group member comes after an unmanaged one (the first member
 * counts when it is unmanaged itself): the internal colocations no longer
 * carry the group's mandatory colocations that far, so Pacemaker's
 * expand_group_colocations gives them to the member directly.
 */
function afterUnmanagedMember(group: Rsc, member: Rsc): boolean {
  const members = group.children;
  let unmanaged = members[0] !== undefined && !members[0].managed;
  for (let i = 1; i < members.length; i++) {
    const m = members[i] as Rsc;
    if (m === member) return unmanaged;
    if (!m.managed) unmanaged = true;
  }
  return false;
}

/**
 * Colocations where `rsc` is the dependent (a group's first member also gets
 * the group's, a member after an unmanaged one its mandatory ones).
 */
export function thisWithList(rsc: Rsc): Coloc[] {
  const parent = rsc.parent;
  if (parent?.kind === 'group' && parent.thisWith.length > 0) {
    if (parent.children[0] === rsc)
      return sortedBy([...rsc.thisWith, ...[...parent.thisWith].reverse()], 'primary');
    if (afterUnmanagedMember(parent, rsc)) {
      const mandatory = parent.thisWith.filter((c) => c.score >= INF);
      if (mandatory.length > 0) return sortedBy([...rsc.thisWith, ...mandatory], 'primary');
    }
  }
  return sortedBy(rsc.thisWith, 'primary');
}

/** Colocations where `rsc` is the primary (a group's last member also gets the group's). */
export function withThisList(rsc: Rsc): Coloc[] {
  const parent = rsc.parent;
  if (parent && lastChild(parent) === rsc && parent.withThis.length > 0)
    return sortedBy([...rsc.withThis, ...[...parent.withThis].reverse()], 'dependent');
  return sortedBy(rsc.withThis, 'dependent');
}

/** A resource's own "with this" colocations, sorted (for a group: before they move to its last member). */
export function ownWithThis(rsc: Rsc): Coloc[] {
  return sortedBy(rsc.withThis, 'dependent');
}

/** A resource's own "this with" colocations, sorted. */
export function ownThisWith(rsc: Rsc): Coloc[] {
  return sortedBy(rsc.thisWith, 'primary');
}
