import type { Cib, LocationConstraint } from '@remora/cib';
import {
  INFINITY,
  effectiveMeta,
  evaluateRule,
  findResource,
  formatScore,
  nodeAttributes,
  parseBoolean,
  parseScore,
} from '@remora/cib';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import type { StatusPrimitive, StatusResource, StatusView } from '@remora/scheduler';

export interface Location {
  readonly node: string;
  readonly role: string;
}

function primitivesOf(r: StatusResource): StatusPrimitive[] {
  if (r.kind === 'primitive') return [r];
  if (r.kind === 'group') return [...r.children];
  return r.instances.flatMap(primitivesOf);
}

/** Whether a view entry is the resource `id` (a clone instance `id:N` counts as `id`). */
function matches(r: StatusResource, id: string): boolean {
  return r.id === id || r.id.replace(/:\d+$/, '') === id;
}

function find(resources: readonly StatusResource[], id: string): StatusResource[] {
  const found: StatusResource[] = [];
  for (const r of resources) {
    if (matches(r, id)) found.push(r);
    else if (r.kind === 'group') found.push(...find(r.children, id));
    else if (r.kind === 'clone') {
      if (r.childId === id) found.push(r);
      else found.push(...find(r.instances, id));
    }
  }
  return found;
}

/** Where a resource (primitive, group, clone or clone instance) is active, and in which role. */
export function locate(view: StatusView, id: string): Location[] {
  const seen = new Set<string>();
  const out: Location[] = [];
  for (const r of find(view.resources, id))
    for (const p of primitivesOf(r))
      for (const node of p.nodes) {
        const key = `${node}/${p.role}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ node, role: p.role });
      }
  return out;
}

/** Why a resource runs where it does, or not at all (crm_resource --why), as data. */
export interface Explanation {
  readonly resource: string;
  readonly running: readonly Location[];
  /** Reasons that apply to the resource everywhere. */
  readonly reasons: readonly string[];
  /** Per node: the location score from constraints (INFINITY/-INFINITY as ±1000000) and what keeps it off. */
  readonly nodes: readonly {
    readonly node: string;
    readonly score: string;
    readonly blockers: readonly string[];
  }[];
  /** The scheduler's allocation scores for the resource per node (@remora/scheduler), when it could compute them. */
  readonly allocationScores?: Readonly<Record<string, string>>;
  /** Why the scheduler could not give scores. */
  readonly allocationError?: string;
}

function constraintScore(
  c: LocationConstraint,
  node: string,
  cib: Cib,
  now: Date,
): number | undefined {
  if (c.node !== undefined) return c.node === node ? (c.score ?? 0) : undefined;
  let attrs: Record<string, string>;
  try {
    attrs = nodeAttributes(cib, node);
  } catch {
    return undefined;
  }
  let total: number | undefined;
  for (const rule of c.rules) {
    if (!evaluateRule(rule, { nodeAttributes: attrs, now })) continue;
    const score =
      rule.score ?? (rule.scoreAttribute ? parseScore(attrs[rule.scoreAttribute] ?? '0') : 0);
    total = (total ?? 0) + score;
  }
  return total;
}

/**
 * Explain a resource's placement from the CIB and the status: its own
 * settings (target-role, is-managed), the cluster's (maintenance-mode,
 * stop-all-resources), and per node the location constraints, node state
 * (offline, standby, maintenance) and fail counts at the migration threshold.
 */
export function explain(
  view: StatusView,
  cib: Cib,
  id: string,
  onlyNode?: string,
  allocation?: { readonly scores?: Readonly<Record<string, number>>; readonly error?: string },
  now = new Date(),
): Explanation {
  const loc = findResource(cib, id);
  if (!loc) throw new CliError(`no resource '${id}' in the configuration`, ExitCode.NOSUCH);
  if (onlyNode !== undefined && !view.nodes.some((n) => n.name === onlyNode))
    throw new CliError(`no node '${onlyNode}' in the cluster`, ExitCode.NOSUCH);
  const meta = effectiveMeta(cib, id);
  const reasons: string[] = [];
  const targetRole = meta['target-role']?.toLowerCase();
  if (targetRole === 'stopped')
    reasons.push(`Configuration specifies '${id}' should remain stopped`);
  if (
    (targetRole === 'unpromoted' || targetRole === 'slave') &&
    loc.ancestors.some((a) => a.kind === 'clone' && a.promotable)
  )
    reasons.push(`Configuration specifies '${id}' should not be promoted`);
  if (!parseBoolean(meta['is-managed'], true))
    reasons.push(`Configuration prevents cluster from stopping or starting unmanaged '${id}'`);
  if (view.options.maintenanceMode)
    reasons.push(`The cluster is in maintenance mode: it does not start or stop '${id}'`);
  if (view.options.stopAllResources) reasons.push(`stop-all-resources is set: no resource may run`);

  // Constraints on the resource or any of its parents (a group's or clone's apply to members).
  const ids = new Set([id, ...loc.ancestors.map((a) => a.id)]);
  const locations = cib.constraints.filter(
    (c): c is LocationConstraint => c.kind === 'location' && c.rsc !== undefined && ids.has(c.rsc),
  );
  const threshold =
    meta['migration-threshold'] !== undefined ? parseScore(meta['migration-threshold']) : INFINITY;
  const nodes = view.nodes
    .filter((n) => onlyNode === undefined || n.name === onlyNode)
    .map((n) => {
      const blockers: string[] = [];
      let score = 0;
      for (const c of locations) {
        const s = constraintScore(c, n.name, cib, now);
        if (s === undefined) continue;
        score = Math.max(-INFINITY, Math.min(INFINITY, score + s));
        if (s <= -INFINITY)
          blockers.push(
            `'${id}' is banned from '${n.name}' by location constraint ${c.id} (score -INFINITY)`,
          );
      }
      if (!n.online) blockers.push(`Node ${n.name} is offline`);
      if (n.standby) blockers.push(`Node ${n.name} is in standby`);
      if (n.maintenance)
        blockers.push(`Node ${n.name} is in maintenance: nothing is started or stopped there`);
      const fail = view.failCounts.find(
        (f) => f.node === n.name && f.resource.replace(/:\d+$/, '') === id,
      );
      if (fail && fail.failCount >= threshold)
        blockers.push(
          `'${id}' cannot run on '${n.name}' due to reaching migration threshold (clean up resource to allow again)`,
        );
      return { node: n.name, score: formatScore(score), blockers };
    });
  const scores = allocation?.scores
    ? Object.fromEntries(
        Object.entries(allocation.scores)
          .filter(([n]) => onlyNode === undefined || n === onlyNode)
          .map(([n, v]) => [n, formatScore(v)]),
      )
    : undefined;
  return {
    resource: id,
    running: locate(view, id),
    reasons,
    nodes,
    ...(scores ? { allocationScores: scores } : {}),
    ...(allocation?.error ? { allocationError: allocation.error } : {}),
  };
}
