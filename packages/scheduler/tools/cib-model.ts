/**
 * The fuzzer's own description of a CIB: small, structured, and made of
 * removable units so the shrinker can drop nodes, resources, constraints,
 * status entries and attributes one at a time, then render valid XML again.
 */
import { createHash } from 'node:crypto';

/** How a cluster node appears in the status section. */
export const NodeStates = [
  'online',
  'offline',
  'unclean',
  'standby',
  'maintenance',
  'shutdown',
] as const;
export type NodeState = (typeof NodeStates)[number];

export interface NodeSpec {
  /** cluster: a corosync node; remote: ocf:pacemaker:remote connection; guest: remote-node meta on a VM. */
  readonly kind: 'cluster' | 'remote' | 'guest';
  readonly uname: string;
  /** Cluster nodes only; remote and guest nodes are up when their connection runs. */
  readonly state: NodeState;
  /** Permanent node attributes (nodes section); standby / maintenance live here too. */
  readonly attrs: Readonly<Record<string, string>>;
}

export interface AgentSpec {
  readonly class: string;
  readonly provider?: string;
  readonly type: string;
}

export interface OpSpec {
  readonly name: string;
  /** Milliseconds. */
  readonly interval: number;
  readonly role?: 'Promoted' | 'Unpromoted';
  readonly onFail?: string;
}

export interface PrimitiveSpec {
  readonly type: 'primitive';
  readonly id: string;
  readonly agent: AgentSpec;
  readonly params: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
  readonly ops: readonly OpSpec[];
}

export interface GroupSpec {
  readonly type: 'group';
  readonly id: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly members: readonly PrimitiveSpec[];
}

export interface CloneSpec {
  readonly type: 'clone';
  readonly id: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly child: PrimitiveSpec | GroupSpec;
}

export type ResourceSpec = PrimitiveSpec | GroupSpec | CloneSpec;

export interface RuleExpression {
  readonly attribute: string;
  readonly operation: 'eq' | 'ne' | 'defined' | 'not_defined' | 'gt' | 'lt';
  readonly value?: string;
  readonly type?: 'string' | 'number';
}

export type ConstraintSpec =
  | {
      readonly type: 'location';
      readonly id: string;
      readonly rsc: string;
      readonly role?: 'Promoted' | 'Unpromoted';
      readonly discovery?: 'always' | 'never' | 'exclusive';
      /** Either a node and score, or a rule. */
      readonly node?: string;
      readonly score?: string;
      readonly rule?: {
        readonly score: string;
        readonly booleanOp: 'and' | 'or';
        readonly expressions: readonly RuleExpression[];
      };
    }
  | {
      readonly type: 'colocation';
      readonly id: string;
      readonly rsc: string;
      readonly withRsc: string;
      readonly score: string;
      readonly rscRole?: 'Promoted' | 'Unpromoted' | 'Started';
      readonly withRscRole?: 'Promoted' | 'Unpromoted' | 'Started';
    }
  | {
      readonly type: 'order';
      readonly id: string;
      readonly first: string;
      readonly then: string;
      readonly kind: 'Mandatory' | 'Optional' | 'Serialize';
      readonly symmetrical?: boolean;
      readonly firstAction?: 'start' | 'promote' | 'stop' | 'demote';
      readonly thenAction?: 'start' | 'promote' | 'stop' | 'demote';
    };

/** What the status section says happened to one resource on one node. */
export const HistoryKinds = [
  'probed-stopped',
  'probed-running',
  'running',
  'running-no-monitor',
  'promoted',
  'stopped',
  'start-failed',
  'monitor-failed',
  'stop-failed',
  'probe-failed',
  'stale-digest',
  /** start then migrate_to `peer` (the source of a complete or partial migration) */
  'migrate-source',
  /** migrate_from `peer` succeeded here (the target) */
  'migrate-target',
  /** migrate_from `peer` failed here */
  'migrate-target-failed',
] as const;
export type HistoryKind = (typeof HistoryKinds)[number];

export interface HistorySpec {
  readonly node: string;
  readonly rsc: string;
  readonly kind: HistoryKind;
  /** Seconds before the execution date when the last operation happened. */
  readonly age: number;
  /** rc of the failed operation (failures only). */
  readonly rc?: number;
  /** op-status of the failed operation (failures only; 0 = done, 2 = timed out, 4 = error). */
  readonly opStatus?: number;
  /** fail-count transient attribute value, if any. */
  readonly failCount?: string;
  /** Migrations: the other node (target of migrate_to, source of migrate_from). */
  readonly peer?: string;
}

export interface FuzzCib {
  /** Epoch seconds; written as the CIB's execution-date so time-based decisions are reproducible. */
  readonly executionDate: number;
  readonly haveQuorum: boolean;
  readonly properties: Readonly<Record<string, string>>;
  readonly rscDefaults: Readonly<Record<string, string>>;
  readonly nodes: readonly NodeSpec[];
  readonly resources: readonly ResourceSpec[];
  readonly constraints: readonly ConstraintSpec[];
  readonly history: readonly HistorySpec[];
}

// ---------------------------------------------------------------------------
// Queries

/** Every primitive, group members and clone children included. */
export function primitives(cib: FuzzCib): PrimitiveSpec[] {
  const out: PrimitiveSpec[] = [];
  const visit = (r: ResourceSpec): void => {
    if (r.type === 'primitive') out.push(r);
    else if (r.type === 'group') r.members.forEach(visit);
    else visit(r.child);
  };
  cib.resources.forEach(visit);
  return out;
}

/** Ids of every resource (primitives, groups, clones). */
export function resourceIds(cib: FuzzCib): Set<string> {
  const ids = new Set<string>();
  const visit = (r: ResourceSpec): void => {
    ids.add(r.id);
    if (r.type === 'group') r.members.forEach(visit);
    else if (r.type === 'clone') visit(r.child);
  };
  cib.resources.forEach(visit);
  return ids;
}

/** The guest node name a primitive hosts (its remote-node meta-attribute), if any. */
export function guestOf(p: PrimitiveSpec): string | undefined {
  return p.meta['remote-node'];
}

export function isRemoteConnection(p: PrimitiveSpec): boolean {
  return p.agent.class === 'ocf' && p.agent.provider === 'pacemaker' && p.agent.type === 'remote';
}

/** The resource a history entry belongs to: a unique clone's instance `id:N` is `id`'s. */
export function baseId(historyRsc: string): string {
  return historyRsc.replace(/:\d+$/, '');
}

// ---------------------------------------------------------------------------
// Removable units (for the shrinker)

/** A removable piece of a FuzzCib, named by a stable key. */
export type Unit = string;

/** Every removable unit of a CIB, most structural first. */
export function units(cib: FuzzCib): Unit[] {
  const out: Unit[] = [];
  // stonith-enabled stays: without it (default true, and rarely a fence device left) every
  // resource becomes unmanaged, which hides the difference being shrunk behind another one
  for (const k of Object.keys(cib.properties)) if (k !== 'stonith-enabled') out.push(`prop:${k}`);
  for (const k of Object.keys(cib.rscDefaults)) out.push(`rscdef:${k}`);
  if (!cib.haveQuorum) out.push('quorum-loss');
  for (const n of cib.nodes) {
    out.push(`node:${n.uname}`);
    if (n.kind === 'cluster' && n.state !== 'online') out.push(`nodestate:${n.uname}`);
    for (const a of Object.keys(n.attrs)) out.push(`nodeattr:${n.uname}:${a}`);
  }
  const visit = (r: ResourceSpec): void => {
    out.push(`rsc:${r.id}`);
    for (const m of Object.keys(r.meta)) if (m !== 'remote-node') out.push(`meta:${r.id}:${m}`);
    if (r.type === 'primitive') r.ops.forEach((_, i) => out.push(`op:${r.id}:${i}`));
    if (r.type === 'group') r.members.forEach(visit);
    if (r.type === 'clone') visit(r.child);
  };
  cib.resources.forEach(visit);
  for (const c of cib.constraints) out.push(`con:${c.id}`);
  for (const h of cib.history) out.push(`hist:${h.node}:${h.rsc}`);
  for (const h of cib.history) if (h.failCount !== undefined) out.push(`fc:${h.node}:${h.rsc}`);
  return out;
}

function filterRecord(
  rec: Readonly<Record<string, string>>,
  keep: (k: string) => boolean,
): Record<string, string> {
  return Object.fromEntries(Object.entries(rec).filter(([k]) => keep(k)));
}

/**
 * The CIB with the given units removed, plus everything that would dangle
 * without them: constraints and status entries naming a removed resource or
 * node, groups left empty, remote/guest nodes whose connection is gone.
 * Removing a group or clone keeps its members as top-level primitives.
 */
export function withoutUnits(cib: FuzzCib, removed: ReadonlySet<Unit>): FuzzCib {
  const gone = (u: Unit): boolean => removed.has(u);
  const prim = (p: PrimitiveSpec): PrimitiveSpec => ({
    ...p,
    meta: filterRecord(p.meta, (m) => !gone(`meta:${p.id}:${m}`)),
    ops: p.ops.filter((_, i) => !gone(`op:${p.id}:${i}`)),
  });
  const resources: ResourceSpec[] = [];
  const place = (r: ResourceSpec, out: ResourceSpec[]): void => {
    if (r.type === 'primitive') {
      if (!gone(`rsc:${r.id}`)) out.push(prim(r));
      return;
    }
    if (r.type === 'group') {
      const members = r.members.filter((m) => !gone(`rsc:${m.id}`)).map(prim);
      if (members.length === 0) return;
      if (gone(`rsc:${r.id}`)) out.push(...members);
      else
        out.push({ ...r, meta: filterRecord(r.meta, (m) => !gone(`meta:${r.id}:${m}`)), members });
      return;
    }
    const inner: ResourceSpec[] = [];
    place(r.child, inner);
    if (inner.length === 0) return;
    if (gone(`rsc:${r.id}`) || inner.length > 1 || inner[0]!.type === 'clone') out.push(...inner);
    else
      out.push({
        ...r,
        meta: filterRecord(r.meta, (m) => !gone(`meta:${r.id}:${m}`)),
        child: inner[0] as PrimitiveSpec | GroupSpec,
      });
  };
  cib.resources.forEach((r) => place(r, resources));
  const draft: FuzzCib = { ...cib, resources };
  const prims = primitives(draft);
  // Remote and guest nodes exist only while their connection / VM does.
  const connected = new Set<string>();
  for (const p of prims) {
    if (isRemoteConnection(p)) connected.add(p.id);
    const g = guestOf(p);
    if (g) connected.add(g);
  }
  const nodes = cib.nodes
    .filter((n) => !gone(`node:${n.uname}`))
    .filter((n) => n.kind === 'cluster' || connected.has(n.uname))
    .map((n) => ({
      ...n,
      state: gone(`nodestate:${n.uname}`) ? ('online' as const) : n.state,
      attrs: filterRecord(n.attrs, (a) => !gone(`nodeattr:${n.uname}:${a}`)),
    }));
  // Drop guest metas whose guest node was removed (the VM stays a plain resource).
  const nodeNames = new Set(nodes.map((n) => n.uname));
  const stripGuest = (r: ResourceSpec): ResourceSpec => {
    if (r.type === 'primitive') {
      const g = guestOf(r);
      return g && !nodeNames.has(g)
        ? { ...r, meta: filterRecord(r.meta, (m) => m !== 'remote-node') }
        : r;
    }
    if (r.type === 'group')
      return { ...r, members: r.members.map((m) => stripGuest(m) as PrimitiveSpec) };
    return { ...r, child: stripGuest(r.child) as PrimitiveSpec | GroupSpec };
  };
  const finalResources = resources
    .filter((r) => !(r.type === 'primitive' && isRemoteConnection(r) && !nodeNames.has(r.id)))
    .map(stripGuest);
  const ids = resourceIds({ ...draft, resources: finalResources });
  const constraints = cib.constraints.filter((c) => {
    if (gone(`con:${c.id}`)) return false;
    if (c.type === 'location')
      return ids.has(c.rsc) && (c.node === undefined || nodeNames.has(c.node));
    if (c.type === 'colocation') return ids.has(c.rsc) && ids.has(c.withRsc);
    return ids.has(c.first) && ids.has(c.then);
  });
  const history = cib.history
    .filter(
      (h) =>
        !gone(`hist:${h.node}:${h.rsc}`) &&
        (ids.has(baseId(h.rsc)) || nodes.some((n) => n.kind === 'guest' && n.uname === h.rsc)) &&
        nodeNames.has(h.node) &&
        // a migration target's record names its source node
        (h.kind === 'migrate-source' || h.peer === undefined || nodeNames.has(h.peer)),
    )
    .map((h): HistorySpec => {
      // without its target node a migration's source is just running
      if (h.kind === 'migrate-source' && h.peer !== undefined && !nodeNames.has(h.peer)) {
        const { peer: _gone, ...rest } = h;
        return withoutFailCount({ ...rest, kind: 'running' });
      }
      return withoutFailCount(h);
    });
  function withoutFailCount(h: HistorySpec): HistorySpec {
    if (h.failCount === undefined || !gone(`fc:${h.node}:${h.rsc}`)) return h;
    const { failCount: _drop, ...rest } = h;
    return rest;
  }
  return {
    ...cib,
    haveQuorum: cib.haveQuorum || gone('quorum-loss'),
    properties: filterRecord(cib.properties, (k) => !gone(`prop:${k}`)),
    rscDefaults: filterRecord(cib.rscDefaults, (k) => !gone(`rscdef:${k}`)),
    nodes,
    resources: finalResources,
    constraints,
    history,
  };
}

/**
 * The configuration alone: every cluster node up (standby and maintenance
 * kept, they are configuration) and an empty history, for checking the
 * configuration with crm_verify apart from what the status section implies.
 */
export function configurationOnly(cib: FuzzCib): FuzzCib {
  return {
    ...cib,
    nodes: cib.nodes.map((n) =>
      n.state === 'standby' || n.state === 'maintenance' ? n : { ...n, state: 'online' as const },
    ),
    history: [],
  };
}

// ---------------------------------------------------------------------------
// Rendering

function esc(v: string): string {
  return v
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function attrs(rec: Record<string, string | undefined>): string {
  return Object.entries(rec)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v!)}"`)
    .join('');
}

function nvset(
  tag: string,
  id: string,
  rec: Readonly<Record<string, string>>,
  pad: string,
): string {
  const keys = Object.keys(rec);
  if (keys.length === 0) return '';
  const pairs = keys
    .map((k) => `${pad}  <nvpair${attrs({ id: `${id}-${k}`, name: k, value: rec[k] })}/>`)
    .join('\n');
  return `${pad}<${tag} id="${id}">\n${pairs}\n${pad}</${tag}>\n`;
}

/** Pacemaker's op-digest of a parameter set (one-shot operations; recurring ones add CRM_meta_timeout). */
export function opDigest(
  params: Readonly<Record<string, string>>,
  interval: number,
  timeoutMs = 20000,
): string {
  const all: Record<string, string> = { ...params };
  if (interval > 0) all['CRM_meta_timeout'] = String(timeoutMs);
  const body = Object.keys(all)
    .sort()
    .map((k) => ` ${k}="${esc(all[k]!)}"`)
    .join('');
  return createHash('md5').update(` <parameters${body}/>\n`).digest('hex');
}

function opId(rsc: string, op: OpSpec): string {
  return `${rsc}-${op.name}-${op.interval}${op.role ? `-${op.role.toLowerCase()}` : ''}`;
}

function renderPrimitive(p: PrimitiveSpec, pad: string): string {
  const head = `${pad}<primitive${attrs({ id: p.id, class: p.agent.class, provider: p.agent.provider, type: p.agent.type })}>\n`;
  const ops = p.ops.length
    ? `${pad}  <operations>\n${p.ops
        .map(
          (o) =>
            `${pad}    <op${attrs({ id: opId(p.id, o), name: o.name, interval: `${o.interval / 1000}s`, role: o.role, 'on-fail': o.onFail })}/>`,
        )
        .join('\n')}\n${pad}  </operations>\n`
    : '';
  return (
    head +
    nvset('instance_attributes', `${p.id}-ia`, p.params, pad + '  ') +
    nvset('meta_attributes', `${p.id}-meta`, p.meta, pad + '  ') +
    ops +
    `${pad}</primitive>\n`
  );
}

function renderResource(r: ResourceSpec, pad: string): string {
  if (r.type === 'primitive') return renderPrimitive(r, pad);
  if (r.type === 'group')
    return (
      `${pad}<group id="${r.id}">\n` +
      nvset('meta_attributes', `${r.id}-meta`, r.meta, pad + '  ') +
      r.members.map((m) => renderPrimitive(m, pad + '  ')).join('') +
      `${pad}</group>\n`
    );
  return (
    `${pad}<clone id="${r.id}">\n` +
    nvset('meta_attributes', `${r.id}-meta`, r.meta, pad + '  ') +
    renderResource(r.child, pad + '  ') +
    `${pad}</clone>\n`
  );
}

function renderConstraint(c: ConstraintSpec): string {
  const pad = '      ';
  if (c.type === 'location') {
    const head = attrs({
      id: c.id,
      rsc: c.rsc,
      role: c.role,
      'resource-discovery': c.discovery,
      node: c.rule ? undefined : c.node,
      score: c.rule ? undefined : c.score,
    });
    if (!c.rule) return `${pad}<rsc_location${head}/>\n`;
    const exprs = c.rule.expressions
      .map(
        (e, i) =>
          `${pad}    <expression${attrs({ id: `${c.id}-e${i}`, attribute: e.attribute, operation: e.operation, value: e.value, type: e.type })}/>`,
      )
      .join('\n');
    return (
      `${pad}<rsc_location${head}>\n` +
      `${pad}  <rule${attrs({ id: `${c.id}-rule`, score: c.rule.score, 'boolean-op': c.rule.expressions.length > 1 ? c.rule.booleanOp : undefined })}>\n` +
      `${exprs}\n${pad}  </rule>\n${pad}</rsc_location>\n`
    );
  }
  if (c.type === 'colocation')
    return `${pad}<rsc_colocation${attrs({ id: c.id, rsc: c.rsc, 'with-rsc': c.withRsc, score: c.score, 'rsc-role': c.rscRole, 'with-rsc-role': c.withRscRole })}/>\n`;
  return `${pad}<rsc_order${attrs({
    id: c.id,
    first: c.first,
    then: c.then,
    kind: c.kind,
    symmetrical: c.symmetrical === undefined ? undefined : String(c.symmetrical),
    'first-action': c.firstAction,
    'then-action': c.thenAction,
  })}/>\n`;
}

interface OpRecord {
  readonly op: string;
  readonly interval: number;
  readonly rc: number;
  readonly opStatus: number;
  readonly targetRc: number;
  readonly digest: string;
  readonly extra?: Readonly<Record<string, string>>;
}

/** The lrm_rsc_op records a history entry stands for (last_0, recurring, last_failure_0). */
function opRecords(h: HistorySpec, p: PrimitiveSpec): { records: OpRecord[]; failureIdx?: number } {
  const d0 = opDigest(p.params, 0);
  const timeout = p.meta[GUEST_CONNECTION] ? 30000 : 20000;
  const one = (op: string, rc: number, targetRc: number, opStatus = 0): OpRecord => ({
    op,
    interval: 0,
    rc,
    opStatus,
    targetRc,
    digest: d0,
  });
  const promotable = h.kind === 'promoted';
  const monitor = p.ops.find(
    (o) =>
      o.name === 'monitor' &&
      o.interval > 0 &&
      (o.role === undefined || o.role === (promotable ? 'Promoted' : 'Unpromoted')),
  );
  const recurring = (rc: number, targetRc: number, opStatus = 0): OpRecord[] =>
    monitor
      ? [
          {
            op: 'monitor',
            interval: monitor.interval,
            rc,
            opStatus,
            targetRc,
            digest: opDigest(p.params, monitor.interval, timeout),
          },
        ]
      : [];
  const frc = h.rc ?? 1;
  const fst = h.opStatus ?? 0;
  switch (h.kind) {
    case 'probed-stopped':
      return { records: [one('monitor', 7, 7)] };
    case 'probed-running':
      return { records: [one('monitor', 0, 7)] };
    case 'probe-failed':
      return { records: [one('monitor', frc === 7 ? 1 : frc, 7, fst)], failureIdx: 0 };
    case 'running':
      return { records: [one('start', 0, 0), ...recurring(0, 0)] };
    case 'running-no-monitor':
      return { records: [one('start', 0, 0)] };
    case 'stale-digest':
      return {
        records: [{ ...one('start', 0, 0), digest: opDigest({ ...p.params, stale: '1' }, 0) }],
      };
    case 'promoted':
      return { records: [one('promote', 0, 0), ...recurring(8, 8)] };
    case 'stopped':
      return { records: [one('stop', 0, 0)] };
    case 'start-failed':
      return { records: [one('start', frc, 0, fst)], failureIdx: 0 };
    case 'stop-failed':
      return { records: [one('stop', frc, 0, fst)], failureIdx: 0 };
    case 'migrate-source': {
      const extra = { migrate_source: h.node, migrate_target: h.peer ?? '' };
      return {
        records: [one('start', 0, 0), ...recurring(0, 0), { ...one('migrate_to', 0, 0), extra }],
      };
    }
    case 'migrate-target': {
      const extra = { migrate_source: h.peer ?? '', migrate_target: h.node };
      return { records: [{ ...one('migrate_from', 0, 0), extra }, ...recurring(0, 0)] };
    }
    case 'migrate-target-failed': {
      const extra = { migrate_source: h.peer ?? '', migrate_target: h.node };
      return { records: [{ ...one('migrate_from', frc, 0, fst), extra }], failureIdx: 0 };
    }
    case 'monitor-failed': {
      const rec = recurring(frc === 0 ? 7 : frc, 0, fst);
      if (rec.length === 0) return { records: [one('start', 0, 0)] };
      return { records: [one('start', 0, 0), ...rec], failureIdx: 1 };
    }
  }
}

const UUID = '3f1c2a9e-0000-4000-8000-72656d6f7261';

/** Marks the implicit connection resource Pacemaker creates for a guest node. */
const GUEST_CONNECTION = '#guest-connection';

/**
 * The implicit ocf:pacemaker:remote connection of a guest node (id = guest
 * name, no parameters, 30 s monitor), so its history can be rendered.
 */
function guestConnection(guest: string): PrimitiveSpec {
  return {
    type: 'primitive',
    id: guest,
    agent: { class: 'ocf', provider: 'pacemaker', type: 'remote' },
    params: {},
    meta: { [GUEST_CONNECTION]: 'true' },
    ops: [{ name: 'monitor', interval: 30000 }],
  };
}

/** The CIB as Pacemaker XML (schema pacemaker-3.7). */
export function renderCib(cib: FuzzCib): string {
  const o: string[] = [];
  const prims = new Map(primitives(cib).map((p) => [p.id, p] as const));
  for (const n of cib.nodes) if (n.kind === 'guest') prims.set(n.uname, guestConnection(n.uname));
  const firstCluster = cib.nodes.find((n) => n.kind === 'cluster');
  o.push(
    `<cib${attrs({
      epoch: '1',
      num_updates: '0',
      admin_epoch: '0',
      'validate-with': 'pacemaker-3.7',
      'have-quorum': cib.haveQuorum ? '1' : '0',
      // fail counts are per operation (fail-count-rsc#op_interval) from 3.0.13; from 3.16,
      // crm_simulate -S stops executing a transition after its probes
      crm_feature_set: '3.15.0',
      'dc-uuid': firstCluster ? firstCluster.uname : undefined,
      'execution-date': String(cib.executionDate),
    })}>\n`,
  );
  o.push('  <configuration>\n    <crm_config>\n');
  o.push(nvset('cluster_property_set', 'cib-bootstrap-options', cib.properties, '      '));
  o.push('    </crm_config>\n    <nodes>\n');
  for (const n of cib.nodes) {
    if (n.kind === 'guest') continue;
    const a = { ...n.attrs };
    if (n.kind === 'cluster' && n.state === 'standby') a['standby'] = 'on';
    if (n.kind === 'cluster' && n.state === 'maintenance') a['maintenance'] = 'on';
    const head = attrs({
      id: n.uname,
      uname: n.uname,
      type: n.kind === 'remote' ? 'remote' : undefined,
    });
    const body = nvset('instance_attributes', `nodes-${n.uname}`, a, '        ');
    o.push(body ? `      <node${head}>\n${body}      </node>\n` : `      <node${head}/>\n`);
  }
  o.push('    </nodes>\n    <resources>\n');
  for (const r of cib.resources) o.push(renderResource(r, '      '));
  o.push('    </resources>\n    <constraints>\n');
  for (const c of cib.constraints) o.push(renderConstraint(c));
  o.push('    </constraints>\n');
  if (Object.keys(cib.rscDefaults).length)
    o.push(
      `    <rsc_defaults>\n${nvset('meta_attributes', 'rsc-options', cib.rscDefaults, '      ')}    </rsc_defaults>\n`,
    );
  o.push('  </configuration>\n  <status>\n');
  let callId = 10;
  let actionId = 1;
  for (const n of cib.nodes) {
    const entries = cib.history.filter((h) => h.node === n.uname && prims.has(baseId(h.rsc)));
    const transient: Record<string, string> = {};
    if (n.kind === 'cluster' && n.state === 'shutdown')
      transient['shutdown'] = String(cib.executionDate - 30);
    const lrm: string[] = [];
    for (const h of entries) {
      const p = prims.get(baseId(h.rsc))!;
      const { records, failureIdx } = opRecords(h, p);
      const t = cib.executionDate - h.age;
      const rec = (r: OpRecord, id: string): string => {
        const key = `${actionId++}:1:${r.targetRc}:${UUID}`;
        return `            <lrm_rsc_op${attrs({
          id,
          operation_key: `${h.rsc}_${r.op}_${r.interval}`,
          operation: r.op,
          'crm-debug-origin': 'do_update_resource',
          'transition-key': key,
          'transition-magic': `${r.opStatus}:${r.rc};${key}`,
          'call-id': String(callId++),
          'rc-code': String(r.rc),
          'op-status': String(r.opStatus),
          interval: String(r.interval),
          'last-rc-change': String(t),
          'exec-time': '10',
          'queue-time': '0',
          'op-digest': r.digest,
          ...r.extra,
        })}/>`;
      };
      const ops = records.map((r, i) =>
        rec(
          r,
          r.interval > 0
            ? `${h.rsc}_${r.op}_${r.interval}`
            : i === 0
              ? `${h.rsc}_last_0`
              : `${h.rsc}_last_${i}`,
        ),
      );
      if (failureIdx !== undefined) ops.push(rec(records[failureIdx]!, `${h.rsc}_last_failure_0`));
      lrm.push(
        `          <lrm_resource${attrs({ id: h.rsc, class: p.agent.class, provider: p.agent.provider, type: p.agent.type })}>\n${ops.join('\n')}\n          </lrm_resource>`,
      );
      if (h.failCount !== undefined && failureIdx !== undefined) {
        const r = records[failureIdx]!;
        transient[`fail-count-${h.rsc}#${r.op}_${r.interval}`] = h.failCount;
        transient[`last-failure-${h.rsc}#${r.op}_${r.interval}`] = String(t);
      }
    }
    let head: string;
    if (n.kind === 'cluster') {
      const s = n.state;
      if (s === 'offline' && lrm.length === 0 && Object.keys(transient).length === 0) continue;
      const st =
        s === 'offline'
          ? { in_ccm: 'false', crmd: 'offline', join: 'down', expected: 'down' }
          : s === 'unclean'
            ? { in_ccm: 'false', crmd: 'offline', join: 'member', expected: 'member' }
            : { in_ccm: 'true', crmd: 'online', join: 'member', expected: 'member' };
      head = attrs({ id: n.uname, uname: n.uname, ...st });
    } else {
      if (lrm.length === 0 && Object.keys(transient).length === 0) continue;
      head = attrs({ id: n.uname, uname: n.uname, remote_node: 'true' });
    }
    o.push(`    <node_state${head}>\n`);
    if (Object.keys(transient).length)
      o.push(
        `      <transient_attributes id="${n.uname}">\n${nvset('instance_attributes', `status-${n.uname}`, transient, '        ')}      </transient_attributes>\n`,
      );
    if (lrm.length)
      o.push(
        `      <lrm id="${n.uname}">\n        <lrm_resources>\n${lrm.join('\n')}\n        </lrm_resources>\n      </lrm>\n`,
      );
    o.push('    </node_state>\n');
  }
  o.push('  </status>\n</cib>\n');
  return o.join('');
}
