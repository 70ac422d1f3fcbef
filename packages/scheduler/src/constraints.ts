/**
 * Constraint references and tickets.
 *
 * Constraints may name a resource, a tag (`<tags><tag>`: a list of ids) or
 * a template (every primitive defined from it). Before anything is scheduled
 * the configured constraints are rewritten so that they name resources only,
 * as Pacemaker expands them: a tag or template inside a resource set becomes
 * its members in place; a simple constraint whose resource is a tag or a
 * template becomes a constraint with resource sets (a tag's set is not
 * sequential), the role or action moving onto the set; a location with sets
 * becomes one location per member.
 *
 * Tickets (`rsc_ticket`): a resource that depends on a ticket that is not
 * granted (or is in standby) is banned from every node; with
 * `loss-policy=fence` the nodes it runs on are fenced, with `freeze` it stays
 * where it is, unmanaged; `demote` only forbids promotion when the
 * constraint is for the Promoted role.
 */
import type {
  ColocationConstraint,
  Constraint,
  LocationConstraint,
  OrderConstraint,
  ResourceSet,
  TicketConstraint,
} from '@remora/cib';
import type { Rsc } from './model';
import { INF, Role, parseRole } from './model';
import type { WorkingSet } from './unpack';
import { fenceNode } from './unpack';

/** The resource a constraint names (a clone's child id stands for the clone). */
export function constraintResource(ws: WorkingSet, id: string): Rsc | undefined {
  return ws.byId.get(id) ?? ws.aliases.get(id);
}

function isResource(ws: WorkingSet, id: string): boolean {
  return constraintResource(ws, id) !== undefined;
}

/** The ids a constraint reference stands for: a resource, a tag's members, a template's primitives. */
export function constraintTargets(ws: WorkingSet, id: string): string[] {
  if (isResource(ws, id)) return [id];
  const tag = ws.cib.tags.get(id);
  if (tag) return tag.flatMap((ref) => (isResource(ws, ref) ? [ref] : templateMembers(ws, ref)));
  const members = templateMembers(ws, id);
  return members.length > 0 || ws.cib.templates.includes(id) ? members : [id];
}

function templateMembers(ws: WorkingSet, id: string): string[] {
  if (!ws.cib.templates.includes(id)) return [];
  const out: string[] = [];
  for (const r of ws.byId.values())
    if (r.kind === 'primitive' && r.primitive?.template === id) out.push(r.id);
  return out;
}

/** Whether an id names a tag or a template rather than a resource. */
function isReference(ws: WorkingSet, id: string | undefined): id is string {
  if (id === undefined || isResource(ws, id)) return false;
  return ws.cib.tags.has(id) || ws.cib.templates.includes(id);
}

function expandSets(ws: WorkingSet, sets: readonly ResourceSet[]): ResourceSet[] {
  return sets.map((s) => ({
    ...s,
    resources: s.resources.flatMap((id) => constraintTargets(ws, id)),
  }));
}

/** A simple constraint's side as a set: a tag or template is an unordered set. */
function sideAsSet(
  ws: WorkingSet,
  id: string,
  extra: { role?: string; action?: string },
): ResourceSet {
  const reference = isReference(ws, id);
  return {
    id,
    resources: constraintTargets(ws, id),
    sequential: !reference,
    requireAll: true,
    ...extra,
    attributes: reference ? { id, sequential: 'false' } : { id },
  };
}

function expandLocation(ws: WorkingSet, c: LocationConstraint): LocationConstraint[] {
  let sets = expandSets(ws, c.sets);
  if (c.rsc !== undefined && isReference(ws, c.rsc))
    sets = [sideAsSet(ws, c.rsc, { role: c.role })];
  else if (sets.length === 0) return [c];
  const out: LocationConstraint[] = [];
  for (const s of sets)
    for (const rsc of s.resources)
      out.push({ ...c, rsc, rscPattern: undefined, role: s.role ?? c.role, sets: [] });
  return out;
}

function expandColocation(ws: WorkingSet, c: ColocationConstraint): ColocationConstraint {
  if (c.rsc !== undefined && c.withRsc !== undefined) {
    if (!isReference(ws, c.rsc) && !isReference(ws, c.withRsc)) return c;
    return {
      ...c,
      rsc: undefined,
      withRsc: undefined,
      rscRole: undefined,
      withRscRole: undefined,
      sets: [
        sideAsSet(ws, c.rsc, { role: c.rscRole }),
        sideAsSet(ws, c.withRsc, { role: c.withRscRole }),
      ],
    };
  }
  return { ...c, sets: expandSets(ws, c.sets) };
}

function expandOrder(ws: WorkingSet, c: OrderConstraint): OrderConstraint {
  if (c.first !== undefined && c.then !== undefined) {
    if (!isReference(ws, c.first) && !isReference(ws, c.then)) return c;
    return {
      ...c,
      first: undefined,
      then: undefined,
      sets: [
        sideAsSet(ws, c.first, { action: c.firstAction }),
        sideAsSet(ws, c.then, { action: c.thenAction }),
      ],
    };
  }
  return { ...c, sets: expandSets(ws, c.sets) };
}

function expandTicket(ws: WorkingSet, c: TicketConstraint): TicketConstraint {
  if (c.rsc !== undefined && c.sets.length === 0) {
    if (!isReference(ws, c.rsc)) return c;
    return {
      ...c,
      rsc: undefined,
      rscRole: undefined,
      sets: [sideAsSet(ws, c.rsc, { role: c.rscRole })],
    };
  }
  return { ...c, sets: expandSets(ws, c.sets) };
}

/** The configured constraints with every tag and template reference expanded to resources. */
export function expandConstraints(ws: WorkingSet): Constraint[] {
  const out: Constraint[] = [];
  for (const c of ws.cib.constraints) {
    switch (c.kind) {
      case 'location':
        out.push(...expandLocation(ws, c));
        break;
      case 'colocation':
        out.push(expandColocation(ws, c));
        break;
      case 'order':
        out.push(expandOrder(ws, c));
        break;
      case 'ticket':
        out.push(expandTicket(ws, c));
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- tickets

type LossPolicy = 'stop' | 'demote' | 'fence' | 'freeze';

interface TicketDependency {
  readonly id: string;
  readonly rsc: Rsc;
  readonly ticket: string;
  readonly role: Role;
  readonly lossPolicy: LossPolicy;
}

const promotionTickets = new WeakMap<Rsc, TicketDependency[]>();
/**
 * Whether a ticket the resource needs for the Promoted role is not granted
 * (or in standby): its promotion score is then -INFINITY.
 */
export function ticketForbidsPromotion(ws: WorkingSet, rsc: Rsc): boolean {
  const deps = promotionTickets.get(rsc) ?? [];
  return deps.some((d) => {
    const t = ticketState(ws, d.ticket);
    return !t.granted || t.standby;
  });
}

function ticketState(ws: WorkingSet, id: string): { granted: boolean; standby: boolean } {
  return ws.cib.tickets.find((t) => t.id === id) ?? { granted: false, standby: false };
}

function lossPolicyOf(ws: WorkingSet, c: TicketConstraint, role: Role): LossPolicy {
  const p = (c.lossPolicy ?? '').toLowerCase();
  if (p === 'fence') {
    if (ws.config.stonithEnabled) return 'fence';
    ws.warnings.push(
      `rsc_ticket '${c.id}': loss-policy=fence is treated as stop because fencing is disabled`,
    );
    return 'stop';
  }
  if (p === 'freeze' || p === 'demote' || p === 'stop') return p;
  if (p !== '')
    ws.warnings.push(
      `rsc_ticket '${c.id}': unknown loss-policy '${c.lossPolicy}' (using the default)`,
    );
  return role === Role.Promoted ? 'demote' : 'stop';
}

function activeNodes(rsc: Rsc): Rsc['runningOn'] {
  return rsc.runningOn;
}

/** Bans, fencing and freezing for one resource (recursively for its children) and one ticket. */
function applyTicket(ws: WorkingSet, rsc: Rsc, dep: TicketDependency): void {
  const t = ticketState(ws, dep.ticket);
  if (t.granted && !t.standby) return;
  if (rsc.children.length > 0) {
    for (const child of rsc.children) applyTicket(ws, child, dep);
    return;
  }
  const ban = (): void => {
    ws.bans.push({ rsc, score: -INF });
  };
  const roleMatches = dep.role === Role.Unknown || dep.role === rsc.role;
  const active = activeNodes(rsc);
  if (!t.granted && active.length > 0) {
    switch (dep.lossPolicy) {
      case 'stop':
        ban();
        break;
      case 'demote':
        if (dep.role !== Role.Promoted) ban();
        break;
      case 'fence':
        if (!roleMatches) return;
        ban();
        for (const node of active) fenceNode(node, 'deadman ticket was lost');
        break;
      case 'freeze':
        if (!roleMatches) return;
        rsc.managed = false;
        rsc.blocked = true;
        break;
    }
  } else if (dep.role !== Role.Promoted || dep.lossPolicy === 'stop') {
    ban();
  }
}

/** Read the `rsc_ticket` constraints and apply what the tickets' states imply. */
export function applyTickets(ws: WorkingSet, constraints: readonly Constraint[]): void {
  for (const c of constraints) {
    if (c.kind !== 'ticket') continue;
    if (!c.ticket) {
      ws.warnings.push(`rsc_ticket '${c.id}' names no ticket (ignored)`);
      continue;
    }
    const pairs: { rsc: string; role?: string; id: string }[] =
      c.sets.length > 0
        ? c.sets.flatMap((s) => s.resources.map((rsc) => ({ rsc, role: s.role, id: s.id })))
        : c.rsc !== undefined
          ? [{ rsc: c.rsc, role: c.rscRole, id: c.id }]
          : [];
    if (pairs.length === 0) ws.warnings.push(`rsc_ticket '${c.id}' names no resource (ignored)`);
    for (const p of pairs) {
      const rsc = constraintResource(ws, p.rsc);
      if (!rsc) {
        ws.warnings.push(`rsc_ticket '${c.id}' refers to '${p.rsc}', which does not exist`);
        continue;
      }
      const role = parseRole(p.role);
      const dep: TicketDependency = {
        id: p.id,
        rsc,
        ticket: c.ticket,
        role: role === Role.Started ? Role.Unknown : role,
        lossPolicy: lossPolicyOf(ws, c, role),
      };
      if (dep.role === Role.Promoted) {
        const list = promotionTickets.get(rsc) ?? [];
        list.push(dep);
        promotionTickets.set(rsc, list);
      }
      applyTicket(ws, rsc, dep);
    }
  }
}
