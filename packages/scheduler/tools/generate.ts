/**
 * A seeded generator of random but valid Pacemaker CIBs (configuration and
 * status), restricted to a chosen set of features so a scheduler can be fuzzed
 * on what it already supports.
 */
import type {
  ConstraintSpec,
  FuzzCib,
  GroupSpec,
  HistoryKind,
  HistorySpec,
  NodeSpec,
  NodeState,
  OpSpec,
  PrimitiveSpec,
  ResourceSpec,
  RuleExpression,
} from './cib-model';
import { guestOf, isRemoteConnection, primitives } from './cib-model';
import { Rng } from './rng';

/** Features the generator can use; `primitive` is always on. */
export const Features = {
  primitive: 'primitives (ocf:heartbeat:Dummy, ocf:pacemaker:Dummy) on cluster nodes',
  group: 'groups of 2-3 primitives',
  clone:
    'clones of a primitive or group: anonymous and globally-unique (instances id:N in the status section), clone-max, clone-node-max, interleave',
  promotable: 'promotable clones of ocf:pacemaker:Stateful',
  remote: 'remote nodes (ocf:pacemaker:remote connection resources)',
  guest: 'guest nodes (remote-node meta-attribute on a VM resource)',
  'node-states': 'offline, unclean, standby, maintenance and shutting-down cluster nodes',
  stonith: 'stonith-enabled=true with stonith:fence_dummy devices (fencing of unclean nodes)',
  quorum: 'lost quorum with no-quorum-policy stop/freeze/ignore/demote',
  location: 'location constraints with node and score',
  rules: 'location constraints with rules on #uname, #kind and node attributes',
  discovery: 'resource-discovery=never/exclusive on location constraints',
  colocation: 'colocation constraints (INFINITY, -INFINITY, finite scores)',
  order: 'ordering constraints (Mandatory, Optional, Serialize; symmetrical or not)',
  stickiness: 'resource-stickiness (per resource and in rsc_defaults)',
  'target-role': 'target-role=Stopped/Started (and Unpromoted/Promoted on promotable clones)',
  unmanaged: 'is-managed=false and maintenance=true on resources',
  history: 'status history: probes, running and stopped resources, promoted instances',
  failures:
    'failed probes, starts, monitors and stops in the status section, with fail-count attributes',
  'migration-threshold': 'migration-threshold on resources and in rsc_defaults',
  'failure-timeout': 'failure-timeout (expired and live failures, given the execution-date)',
  'on-fail': 'on-fail=restart/ignore/block/stop/fence on monitor operations',
  'digest-change': 'running resources recorded with a stale parameter digest (restart/reload)',
  'symmetric-cluster': 'symmetric-cluster=false (opt-in placement)',
  migration:
    'allow-migrate on primitives outside groups, with complete, partial, dangling and failed migrations (migrate_to/migrate_from) in the status section',
} as const;
export type Feature = keyof typeof Features;
export const AllFeatures = Object.keys(Features) as Feature[];

export interface GenerateOptions {
  /** Features to use (`primitive` is implied). Default: all. */
  readonly features?: readonly Feature[];
  /** Upper bound on top-level resources (default 6). */
  readonly maxResources?: number;
  /** Upper bound on cluster nodes (default 4). */
  readonly maxNodes?: number;
}

/** Parse a comma-separated feature list; `all` means every feature; `-x` removes x. */
export function parseFeatures(spec: string): Feature[] {
  const set = new Set<Feature>();
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const neg = raw.startsWith('-');
    const name = neg ? raw.slice(1) : raw;
    const names = name === 'all' ? AllFeatures : [name];
    for (const n of names) {
      if (!(n in Features))
        throw new Error(
          `unknown feature "${n}" in "${spec}"; known features: all, ${AllFeatures.join(', ')}`,
        );
      if (neg) set.delete(n as Feature);
      else set.add(n as Feature);
    }
  }
  set.add('primitive');
  return AllFeatures.filter((f) => set.has(f));
}

const SCORES = ['INFINITY', '-INFINITY', '100', '50', '10', '-10', '-50', '200', '0'] as const;
const MONITOR_MS = 10000;

export function generateCib(seed: number, options: GenerateOptions = {}): FuzzCib {
  const rng = new Rng(seed);
  const on = new Set<Feature>(options.features ?? AllFeatures);
  on.add('primitive');
  const has = (f: Feature): boolean => on.has(f);
  const maxRes = options.maxResources ?? 6;
  const maxNodes = options.maxNodes ?? 4;
  const executionDate = 1700000000;

  // --- cluster properties -------------------------------------------------
  const stonith = has('stonith') && rng.chance(0.5);
  const properties: Record<string, string> = { 'stonith-enabled': stonith ? 'true' : 'false' };
  let haveQuorum = true;
  if (has('quorum') && rng.chance(0.25)) {
    haveQuorum = false;
    properties['no-quorum-policy'] = rng.pick(['stop', 'freeze', 'ignore', 'demote']);
  }
  if (has('symmetric-cluster') && rng.chance(0.15)) properties['symmetric-cluster'] = 'false';
  if (has('failures') && rng.chance(0.15)) properties['start-failure-is-fatal'] = 'false';
  const rscDefaults: Record<string, string> = {};
  if (has('stickiness') && rng.chance(0.3))
    rscDefaults['resource-stickiness'] = rng.pick(['1', '50', '100', 'INFINITY']);
  if (has('migration-threshold') && rng.chance(0.2))
    rscDefaults['migration-threshold'] = String(rng.int(1, 3));

  // --- cluster nodes -------------------------------------------------------
  const nodes: NodeSpec[] = [];
  const nClusters = rng.int(1, maxNodes);
  for (let i = 1; i <= nClusters; i++) {
    let state: NodeState = 'online';
    if (has('node-states') && rng.chance(0.35))
      state = rng.weighted<NodeState>({
        online: 0,
        offline: 3,
        unclean: 2,
        standby: 3,
        maintenance: 1,
        shutdown: 1,
      });
    nodes.push({ kind: 'cluster', uname: `node${i}`, state, attrs: nodeAttrs(rng, has('rules')) });
  }

  // --- resources -----------------------------------------------------------
  const resources: ResourceSpec[] = [];
  let counter = 0;
  const nextId = (prefix: string): string => `${prefix}${++counter}`;
  const primitive = (
    id: string,
    agentKind: 'dummy' | 'stateful' | 'vm' | 'stonith' | 'remote',
  ): PrimitiveSpec => {
    const meta: Record<string, string> = {};
    const ops: OpSpec[] = [];
    let agent: PrimitiveSpec['agent'];
    let params: Record<string, string> = {};
    if (agentKind === 'stonith') {
      agent = { class: 'stonith', type: 'fence_dummy' };
      params = {
        pcmk_host_list: nodes
          .filter((n) => n.kind === 'cluster')
          .map((n) => n.uname)
          .join(' '),
      };
      ops.push({ name: 'monitor', interval: 60000 });
      return { type: 'primitive', id, agent, params, meta, ops };
    }
    if (agentKind === 'remote') {
      agent = { class: 'ocf', provider: 'pacemaker', type: 'remote' };
      params = { server: `192.0.2.${counter}` };
      if (rng.chance(0.2)) params['reconnect_interval'] = '60s';
      ops.push({ name: 'monitor', interval: 30000 });
      return { type: 'primitive', id, agent, params, meta, ops };
    }
    if (agentKind === 'stateful') {
      agent = { class: 'ocf', provider: 'pacemaker', type: 'Stateful' };
      ops.push({ name: 'monitor', interval: 10000, role: 'Promoted' });
      ops.push({ name: 'monitor', interval: 11000, role: 'Unpromoted' });
    } else if (agentKind === 'vm') {
      agent = { class: 'ocf', provider: 'heartbeat', type: 'VirtualDomain' };
      params = { config: `/etc/libvirt/qemu/${id}.xml` };
      ops.push({ name: 'monitor', interval: 30000 });
    } else {
      agent = rng.chance(0.7)
        ? { class: 'ocf', provider: 'heartbeat', type: 'Dummy' }
        : { class: 'ocf', provider: 'pacemaker', type: 'Dummy' };
      if (rng.chance(0.3)) params = { fake: String(rng.int(1, 9)) };
      if (rng.chance(0.8)) {
        const onFail =
          has('on-fail') && rng.chance(0.25)
            ? rng.pick(['restart', 'ignore', 'block', 'stop', ...(stonith ? ['fence'] : [])])
            : undefined;
        ops.push({ name: 'monitor', interval: MONITOR_MS, ...(onFail ? { onFail } : {}) });
      }
    }
    resourceMeta(rng, has, meta);
    return { type: 'primitive', id, agent, params, meta, ops };
  };

  if (stonith || (has('stonith') && rng.chance(0.3))) {
    const n = rng.int(1, 2);
    for (let i = 0; i < n; i++) resources.push(primitive(nextId('fence'), 'stonith'));
  }
  if (has('remote')) {
    const n = rng.int(0, 2);
    for (let i = 0; i < n; i++) {
      const id = `remote${i + 1}`;
      resources.push(primitive(id, 'remote'));
      nodes.push({ kind: 'remote', uname: id, state: 'online', attrs: remoteAttrs(rng, has) });
    }
  }
  if (has('guest')) {
    const n = rng.int(0, 2);
    for (let i = 0; i < n; i++) {
      const vm = primitive(nextId('vm'), 'vm');
      const g = `guest${i + 1}`;
      resources.push({ ...vm, meta: { ...vm.meta, 'remote-node': g } });
      nodes.push({ kind: 'guest', uname: g, state: 'online', attrs: {} });
    }
  }
  const nTop = rng.int(1, maxRes);
  for (let i = 0; i < nTop; i++) {
    const shape = rng.weighted({
      primitive: 6,
      group: has('group') ? 2 : 0,
      clone: has('clone') ? 1.5 : 0,
      promotable: has('promotable') ? 1 : 0,
    });
    if (shape === 'primitive') resources.push(primitive(nextId('rsc'), 'dummy'));
    else if (shape === 'group') resources.push(group(nextId('grp')));
    else if (shape === 'clone') {
      const child: PrimitiveSpec | GroupSpec =
        has('group') && rng.chance(0.3)
          ? group(nextId('cgrp'))
          : stripMeta(primitive(nextId('crsc'), 'dummy'));
      resources.push({ type: 'clone', id: `${child.id}-clone`, meta: cloneMeta(false), child });
    } else {
      const child = stripMeta(primitive(nextId('ms'), 'stateful'));
      resources.push({ type: 'clone', id: `${child.id}-clone`, meta: cloneMeta(true), child });
    }
  }
  function group(id: string): GroupSpec {
    const members: PrimitiveSpec[] = [];
    const n = rng.int(2, 3);
    for (let j = 0; j < n; j++) {
      const m = primitive(`${id}-m${j + 1}`, 'dummy');
      // no allow-migrate inside groups: crm_simulate (2.1.5) gives such a member a
      // migrate_to/migrate_from that waits on the group's own actions, a transition
      // that can never complete ("An invalid transition was produced")
      const { 'allow-migrate': _noMigrate, ...meta } = m.meta;
      members.push({ ...m, meta });
    }
    const meta: Record<string, string> = {};
    resourceMeta(rng, has, meta);
    return { type: 'group', id, meta, members };
  }
  function stripMeta(p: PrimitiveSpec): PrimitiveSpec {
    return { ...p, meta: {} };
  }
  function cloneMeta(promotable: boolean): Record<string, string> {
    const meta: Record<string, string> = {};
    if (promotable) meta['promotable'] = 'true';
    if (rng.chance(0.4)) meta['clone-max'] = String(rng.int(1, Math.max(1, nodes.length)));
    if (promotable && rng.chance(0.4)) meta['promoted-max'] = String(rng.int(1, 2));
    if (promotable && rng.chance(0.2)) meta['promoted-node-max'] = '1';
    if (has('stickiness') && rng.chance(0.2)) meta['resource-stickiness'] = rng.pick(['1', '100']);
    if (has('target-role') && rng.chance(0.1))
      meta['target-role'] = promotable ? rng.pick(['Stopped', 'Unpromoted', 'Started']) : 'Stopped';
    if (rng.chance(0.15)) meta['interleave'] = 'true';
    if (!promotable && rng.chance(0.25)) meta['globally-unique'] = 'true';
    return meta;
  }

  // --- constraints ---------------------------------------------------------
  const constraints: ConstraintSpec[] = [];
  const topIds = resources
    .filter((r) => !(r.type === 'primitive' && r.agent.class === 'stonith'))
    .map((r) => r.id);
  const nodeNames = nodes.map((n) => n.uname);
  const promotableIds = new Set(
    resources.filter((r) => r.type === 'clone' && r.meta['promotable'] === 'true').map((r) => r.id),
  );
  let cid = 0;
  if (has('location')) {
    const n = rng.int(0, Math.min(6, topIds.length + 2));
    for (let i = 0; i < n; i++) {
      const rsc = rng.pick(topIds);
      const c: ConstraintSpec = {
        type: 'location',
        id: `loc${++cid}`,
        rsc,
        node: rng.pick(nodeNames),
        score: rng.pick(SCORES),
        ...(has('discovery') && rng.chance(0.15)
          ? { discovery: rng.pick(['never', 'exclusive'] as const) }
          : {}),
        ...(promotableIds.has(rsc) && rng.chance(0.3) ? { role: 'Promoted' as const } : {}),
      };
      constraints.push(c);
    }
  }
  if (has('rules')) {
    const n = rng.int(0, 2);
    for (let i = 0; i < n; i++) {
      const nExpr = rng.int(1, 2);
      const expressions: RuleExpression[] = [];
      for (let j = 0; j < nExpr; j++) expressions.push(ruleExpression(rng, nodeNames));
      constraints.push({
        type: 'location',
        id: `rule${++cid}`,
        rsc: rng.pick(topIds),
        rule: { score: rng.pick(SCORES), booleanOp: rng.pick(['and', 'or'] as const), expressions },
      });
    }
  }
  if (has('colocation') && topIds.length >= 2) {
    const n = rng.int(0, Math.min(4, topIds.length));
    for (let i = 0; i < n; i++) {
      // Acyclic: a resource is only placed relative to one listed before it.
      const i = rng.int(1, topIds.length - 1);
      const rsc = topIds[i]!;
      const withRsc = topIds[rng.int(0, i - 1)]!;
      constraints.push({
        type: 'colocation',
        id: `col${++cid}`,
        rsc,
        withRsc,
        score: rng.pick(['INFINITY', 'INFINITY', '-INFINITY', '100', '-100', '500']),
        ...(promotableIds.has(withRsc) && rng.chance(0.5)
          ? { withRscRole: 'Promoted' as const }
          : {}),
        ...(promotableIds.has(rsc) && rng.chance(0.3) ? { rscRole: 'Promoted' as const } : {}),
      });
    }
  }
  if (has('order') && topIds.length >= 2) {
    const perm = [...topIds];
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const n = rng.int(0, Math.min(4, topIds.length));
    for (let i = 0; i < n; i++) {
      // Acyclic: orders follow a random permutation of the resources.
      const a = rng.int(0, perm.length - 2);
      const first = perm[a]!;
      const then = perm[rng.int(a + 1, perm.length - 1)]!;
      const kind = rng.weighted({ Mandatory: 5, Optional: 2, Serialize: 1 });
      constraints.push({
        type: 'order',
        id: `ord${++cid}`,
        first,
        then,
        kind,
        ...(kind !== 'Serialize' && rng.chance(0.3) ? { symmetrical: rng.chance(0.5) } : {}),
        ...(promotableIds.has(first) && rng.chance(0.5) ? { firstAction: 'promote' as const } : {}),
      });
    }
  }

  // --- status history --------------------------------------------------------
  const history: HistorySpec[] = [];
  const draft: FuzzCib = {
    executionDate,
    haveQuorum,
    properties,
    rscDefaults,
    nodes,
    resources,
    constraints,
    history,
  };
  if (has('history')) {
    const cloneOf = new Map<string, ResourceSpec>();
    for (const r of resources)
      if (r.type === 'clone')
        for (const p of primitives({ ...draft, resources: [r] })) cloneOf.set(p.id, r);
    const clusterNodes = nodes.filter((n) => n.kind === 'cluster');
    const upNodes = new Set<string>(
      clusterNodes.filter((n) => n.state !== 'offline').map((n) => n.uname),
    );
    // Connections first, so resources on remote/guest nodes see them up or down.
    const allPrims = primitives(draft);
    const ordered = [
      ...allPrims.filter((p) => isRemoteConnection(p) || guestOf(p) || p.agent.class === 'stonith'),
      ...allPrims.filter(
        (p) => !(isRemoteConnection(p) || guestOf(p) || p.agent.class === 'stonith'),
      ),
    ];
    for (const p of ordered) {
      const clone = cloneOf.get(p.id);
      const stateful = p.agent.type === 'Stateful';
      // a globally-unique clone's history names its instances (id:0, id:1, ...)
      const unique = clone?.meta['globally-unique'] === 'true';
      let instance = 0;
      const instanceMax = Number(clone?.meta['clone-max'] ?? nodes.length);
      const canHost = (n: NodeSpec): boolean =>
        n.kind === 'cluster' ||
        (!isRemoteConnection(p) && !guestOf(p) && p.agent.class !== 'stonith');
      const hosts = nodes.filter(canHost);
      // Where it is active: one node (primitive) or several (clone instances); rarely multi-active.
      const active = new Set<string>();
      const liveHosts = hosts.filter((n) => upNodes.has(n.uname));
      if (rng.chance(0.6) && liveHosts.length) active.add(rng.pick(liveHosts).uname);
      if (clone) for (const n of liveHosts) if (rng.chance(0.5)) active.add(n.uname);
      if (rng.chance(0.05) && hosts.length) active.add(rng.pick(hosts).uname);
      // Non-clone resources are rarely found active in more than one place.
      let activeish = 0;
      const solo = !clone && !rng.chance(0.05);
      for (const n of hosts) {
        const isActive = active.has(n.uname) && (!solo || activeish === 0);
        if (!isActive && !upNodes.has(n.uname) && n.kind !== 'cluster') continue;
        let kind: HistoryKind | undefined;
        if (isActive) {
          kind = rng.weighted<HistoryKind>({
            running: 8,
            'running-no-monitor': 1,
            'probed-running': 1,
            promoted: stateful && clone ? 3 : 0,
            'monitor-failed': has('failures') ? 2 : 0,
            'stop-failed': has('failures') ? 0.5 : 0,
            'stale-digest': has('digest-change') && !stateful ? 1 : 0,
          } as Record<HistoryKind, number>);
          activeish++;
        } else if (rng.chance(0.7)) {
          const failOk = has('failures') && (!solo || activeish === 0);
          kind = rng.weighted<HistoryKind>({
            'probed-stopped': 6,
            stopped: 3,
            'start-failed': failOk ? 1.5 : 0,
            'probe-failed': failOk ? 0.3 : 0,
          } as Record<HistoryKind, number>);
          if (kind === 'start-failed' || kind === 'probe-failed') activeish++;
        }
        if (kind === undefined) continue;
        const failure =
          kind === 'monitor-failed' ||
          kind === 'stop-failed' ||
          kind === 'start-failed' ||
          kind === 'probe-failed';
        const entry: HistorySpec = {
          node: n.uname,
          rsc: unique ? `${p.id}:${instance++ % Math.max(1, instanceMax)}` : p.id,
          kind,
          age: has('failure-timeout') ? rng.pick([30, 300, 3600]) : 300,
          ...(failure
            ? {
                rc:
                  kind === 'monitor-failed'
                    ? rng.pick([7, 7, 1])
                    : Number(rng.weighted({ '1': 16, '2': 2, '5': 1, '6': 1 })),
                opStatus: rng.chance(0.15) ? rng.pick([2, 4]) : 0,
                ...(rng.chance(0.8)
                  ? {
                      failCount:
                        kind === 'start-failed'
                          ? rng.pick(['INFINITY', '1'])
                          : String(rng.int(1, 3)),
                    }
                  : {}),
              }
            : {}),
        };
        history.push(entry);
      }
      // A migration caught in the middle (or never cleaned up) between two live cluster nodes.
      if (has('migration') && !clone && p.meta['allow-migrate'] === 'true' && rng.chance(0.5)) {
        const src = history.find((h) => h.rsc === p.id && h.kind === 'running');
        const peers = liveHosts.filter((n) => n.kind === 'cluster' && n.uname !== src?.node);
        if (src && peers.length > 0) {
          const target = rng.pick(peers).uname;
          const at = history.indexOf(src);
          history[at] = { ...src, kind: 'migrate-source', peer: target };
          for (let i = history.length - 1; i >= 0; i--)
            if (history[i]!.rsc === p.id && history[i]!.node === target) history.splice(i, 1);
          const how = rng.weighted({ partial: 3, complete: 2, failed: has('failures') ? 1 : 0 });
          if (how !== 'partial')
            history.push({
              node: target,
              rsc: p.id,
              kind: how === 'failed' ? 'migrate-target-failed' : 'migrate-target',
              age: src.age,
              peer: src.node,
              ...(how === 'failed' ? { rc: 1, opStatus: 0, failCount: '1' } : {}),
            });
        }
      }
      // A remote/guest node is up when its connection runs somewhere.
      const hostedNode = isRemoteConnection(p) ? p.id : guestOf(p);
      if (hostedNode) {
        const running = history.some(
          (h) =>
            h.rsc === p.id &&
            (h.kind === 'running' ||
              h.kind === 'running-no-monitor' ||
              h.kind === 'probed-running'),
        );
        if (!running) continue;
        if (isRemoteConnection(p)) {
          upNodes.add(hostedNode);
          continue;
        }
        // A guest is up when its implicit connection resource runs beside the VM.
        const vmHost = history.find(
          (h) =>
            h.rsc === p.id &&
            (h.kind === 'running' ||
              h.kind === 'running-no-monitor' ||
              h.kind === 'probed-running'),
        )!.node;
        if (rng.chance(0.85)) {
          const failed = has('failures') && rng.chance(0.1);
          history.push({
            node: vmHost,
            rsc: hostedNode,
            kind: failed ? 'monitor-failed' : 'running',
            age: 300,
            ...(failed ? { rc: 7, opStatus: 0, failCount: '1' } : {}),
          });
          if (!failed) upNodes.add(hostedNode);
        }
      }
    }
  }
  return draft;
}

function nodeAttrs(rng: Rng, rules: boolean): Record<string, string> {
  if (!rules) return {};
  const a: Record<string, string> = {};
  if (rng.chance(0.5)) a['rack'] = rng.pick(['a', 'b']);
  if (rng.chance(0.3)) a['ssd'] = 'yes';
  if (rng.chance(0.3)) a['weight'] = String(rng.int(1, 5));
  return a;
}

function remoteAttrs(rng: Rng, has: (f: Feature) => boolean): Record<string, string> {
  const a = nodeAttrs(rng, has('rules'));
  if (has('node-states') && rng.chance(0.15)) a[rng.pick(['standby', 'maintenance'])] = 'on';
  return a;
}

function ruleExpression(rng: Rng, nodeNames: readonly string[]): RuleExpression {
  switch (rng.int(0, 4)) {
    case 0:
      return {
        attribute: '#uname',
        operation: rng.pick(['eq', 'ne'] as const),
        value: rng.pick(nodeNames),
      };
    case 1:
      return {
        attribute: '#kind',
        operation: rng.pick(['eq', 'ne'] as const),
        value: rng.pick(['cluster', 'remote', 'container']),
      };
    case 2:
      return {
        attribute: 'rack',
        operation: rng.pick(['eq', 'ne'] as const),
        value: rng.pick(['a', 'b']),
      };
    case 3:
      return { attribute: 'ssd', operation: rng.pick(['defined', 'not_defined'] as const) };
    default:
      return {
        attribute: 'weight',
        operation: rng.pick(['gt', 'lt'] as const),
        value: String(rng.int(1, 5)),
        type: 'number',
      };
  }
}

function resourceMeta(rng: Rng, has: (f: Feature) => boolean, meta: Record<string, string>): void {
  if (has('stickiness') && rng.chance(0.25))
    meta['resource-stickiness'] = rng.pick(['0', '10', '100', 'INFINITY']);
  if (has('target-role') && rng.chance(0.12))
    meta['target-role'] = rng.pick(['Stopped', 'Started']);
  if (has('unmanaged') && rng.chance(0.08))
    meta[rng.chance(0.7) ? 'is-managed' : 'maintenance'] = rng.chance(0.7) ? 'false' : 'true';
  if (meta['is-managed'] === 'true') meta['is-managed'] = 'false';
  if (meta['maintenance'] === 'false') meta['maintenance'] = 'true';
  if (has('migration-threshold') && rng.chance(0.25))
    meta['migration-threshold'] = String(rng.int(1, 3));
  if (has('migration') && rng.chance(0.4)) meta['allow-migrate'] = 'true';
  if (has('failure-timeout') && rng.chance(0.25))
    meta['failure-timeout'] = rng.pick(['60s', '600s']);
}
