/**
 * Utilization (placement-strategy utilization, minimal or balanced): node
 * capacities and resource requirements per utilization attribute, as
 * Pacemaker 2.1 counts them — a node's capacity is what remains after the
 * resources assigned to it so far in this run, and a resource must fit
 * together with the not yet assigned resources colocated with it.
 */
import type { NvSet } from '@remora/cib';
import { evaluateRule, mergeNvSets } from '@remora/cib';
import type { Coloc, Rsc, SNode } from './model';
import { INF, Role } from './model';
import { ownThisWith, ownWithThis, thisWithList, withThisList } from './colocations';
import type { WorkingSet } from './unpack';

export type Utilization = Map<string, number>;

const STRATEGIES = new Set(['default', 'utilization', 'minimal', 'balanced']);

/** Whether assignment looks at utilization at all (after readUtilization). */
export function usesUtilization(ws: WorkingSet): boolean {
  return ws.config.placementStrategy !== 'default';
}

/** A utilization value as Pacemaker reads it: a leading integer, otherwise 0. */
function utilizationValue(v: string): number {
  const n = Number.parseInt(v.trim(), 10);
  return Number.isFinite(n) ? n : 0;
}

function readSets(sets: readonly NvSet[], ctx: Parameters<typeof evaluateRule>[1]): Utilization {
  const out: Utilization = new Map();
  for (const [k, v] of Object.entries(mergeNvSets(sets, (rule) => evaluateRule(rule, ctx))))
    out.set(k, utilizationValue(v));
  return out;
}

/**
 * Node capacities and resource requirements from the CIB (before
 * assignment); the placement strategy becomes lower case, and an unknown one
 * default (with a warning).
 */
export function readUtilization(ws: WorkingSet): void {
  const raw = ws.config.placementStrategy;
  const strategy = raw.toLowerCase();
  if (!STRATEGIES.has(strategy))
    ws.warnings.push(
      `placement-strategy '${raw}' is not one of ${[...STRATEGIES].join(', ')}: using default`,
    );
  ws.config.placementStrategy = STRATEGIES.has(strategy) ? strategy : 'default';
  const ctx = { now: ws.now };
  const declared = new Map(ws.cib.nodes.map((n) => [n.name, n]));
  for (const node of ws.nodes) {
    const n = declared.get(node.name);
    node.utilization = n ? readSets(n.utilization, ctx) : new Map();
  }
  for (const r of ws.byId.values()) {
    const p = r.primitive;
    r.utilization = p
      ? readSets(p.utilization, {
          now: ws.now,
          resource: { class: p.class, provider: p.provider, type: p.type },
        })
      : new Map();
  }
}

function capacityOf(node: SNode): Utilization {
  if (!node.utilization) node.utilization = new Map();
  return node.utilization;
}

/** Take a resource's requirements from a node's remaining capacity (an attribute the node lacks becomes 0). */
export function consumeCapacity(node: SNode, rsc: Rsc): void {
  const cap = capacityOf(node);
  for (const [k, v] of rsc.utilization ?? []) {
    const cur = cap.get(k);
    cap.set(k, cur === undefined ? 0 : cur - v);
  }
}

/** Whether the node's remaining capacity covers every required attribute (missing counts as 0). */
export function enoughCapacity(node: SNode, required: Utilization): boolean {
  const cap = capacityOf(node);
  for (const [k, v] of required) if (v > (cap.get(k) ?? 0)) return false;
  return true;
}

/**
 * Negative when `a` has more free capacity than `b`, positive when `b` has:
 * the number of attributes where `b` has more minus those where `a` has more.
 */
export function compareCapacity(a: SNode, b: SNode): number {
  const ca = capacityOf(a);
  const cb = capacityOf(b);
  let result = 0;
  for (const [k, va] of ca) {
    const vb = cb.get(k) ?? 0;
    if (va > vb) result--;
    else if (va < vb) result++;
  }
  for (const [k, vb] of cb) {
    if (ca.has(k)) continue;
    if (0 > vb) result--;
    else if (0 < vb) result++;
  }
  return result;
}

function groupColocated(g: Rsc): boolean {
  return (g.meta.collocated ?? g.meta.colocated ?? 'true') !== 'false';
}

/** Whether a group's own colocations have moved to its members (Pacemaker does so when assigning it). */
function groupStarted(g: Rsc): boolean {
  return g.assigning || !g.provisional;
}

/** Colocations where `rsc` is the dependent, as assignment sees them. */
function dependentColocations(rsc: Rsc): Coloc[] {
  if (rsc.kind === 'group') return groupStarted(rsc) ? [] : ownThisWith(rsc);
  const parent = rsc.parent;
  if (parent?.kind === 'group' && !groupStarted(parent)) return ownThisWith(rsc);
  return thisWithList(rsc);
}

/** Colocations where `rsc` is the primary, as assignment sees them. */
function primaryColocations(rsc: Rsc): Coloc[] {
  if (rsc.kind === 'group') return groupStarted(rsc) ? [] : ownWithThis(rsc);
  const parent = rsc.parent;
  if (parent?.kind === 'group' && !groupStarted(parent)) return ownWithThis(rsc);
  return withThisList(rsc);
}

/** Whether a mandatory colocation would place the dependent (before either is assigned). */
function affectsLocation(dependent: Rsc, primary: Rsc, c: Coloc): boolean {
  if (c.score > 0 && c.dependentRole !== Role.Unknown && c.dependentRole !== dependent.nextRole)
    return false;
  if (c.score > 0 && c.primaryRole !== Role.Unknown && c.primaryRole !== primary.nextRole)
    return false;
  return true;
}

function followColocations(rsc: Rsc, orig: Rsc, list: Rsc[]): void {
  if (list.includes(rsc)) return;
  list.push(rsc);
  for (const c of dependentColocations(rsc)) {
    if (c.primary === orig) continue;
    if (c.score >= INF && affectsLocation(rsc, c.primary, c))
      colocatedResources(c.primary, orig, list);
  }
  for (const c of primaryColocations(rsc)) {
    if (c.dependent === orig) continue;
    if (rsc.kind === 'clone' && c.dependent.kind !== 'clone') continue;
    if (c.score >= INF && affectsLocation(c.dependent, rsc, c))
      colocatedResources(c.dependent, orig, list);
  }
}

/** `rsc` and every resource tied to it by mandatory colocations, transitively. */
export function colocatedResources(rsc: Rsc, orig: Rsc = rsc, list: Rsc[] = []): Rsc[] {
  if (rsc.kind === 'group') {
    const members =
      groupColocated(rsc) || rsc.parent?.kind === 'clone' ? rsc.children : rsc.children.slice(0, 1);
    for (const m of members) colocatedResources(m, orig, list);
  }
  followColocations(rsc, orig, list);
  return list;
}

function addRequirements(sum: Utilization, rsc: Rsc): void {
  for (const [k, v] of rsc.utilization ?? []) sum.set(k, (sum.get(k) ?? 0) + v);
}

function addUnassigned(sum: Utilization, rsc: Rsc, all: readonly Rsc[]): void {
  if (!rsc.provisional) return;
  if (rsc.kind === 'primitive') {
    addRequirements(sum, rsc);
  } else if (rsc.kind === 'group') {
    const members =
      groupColocated(rsc) || rsc.parent?.kind === 'clone' ? rsc.children : rsc.children.slice(0, 1);
    for (const m of members) if (m.provisional && !all.includes(m)) addRequirements(sum, m);
  } else if (rsc.kind === 'clone') {
    // one instance counts: one already listed, else one with a listed member, else the first
    let listed = false;
    for (const child of rsc.children) {
      if (all.includes(child)) {
        listed = true;
      } else if (child.children.some((g) => all.includes(g))) {
        addUnassigned(sum, child, all);
        listed = true;
      }
    }
    const first = rsc.children[0];
    if (!listed && first) addUnassigned(sum, first, all);
  }
}

/** What `rsc` and the not yet assigned resources colocated with it need together. */
export function unassignedRequirements(rsc: Rsc, colocated: readonly Rsc[]): Utilization {
  const all = colocated.includes(rsc) ? [...colocated] : [...colocated, rsc];
  const sum: Utilization = new Map();
  for (const r of all) addUnassigned(sum, r, all);
  return sum;
}
