import { formatSimulation, schedule } from '../src';
import { crmSimulate, sections } from './simulate-output';

/*
 * Scheduler behaviour driven by cluster options and node states, each
 * scenario checked against the real crm_simulate (transition summary,
 * executed actions and both status lists).
 */

const NOW = 1700000100;

const op = (rsc: string, task: string, rc: number, call: number, interval = 0): string => {
  const expected = task === 'monitor' && interval === 0 ? 7 : 0;
  const key = `1:1:${expected}:00000000-0000-0000-0000-000000000000`;
  return (
    `<lrm_rsc_op id="${rsc}_${task}_${interval}" operation_key="${rsc}_${task}_${interval}" operation="${task}" ` +
    `crm-debug-origin="test" crm_feature_set="3.16.2" transition-key="${key}" transition-magic="0:${rc};${key}" ` +
    `call-id="${call}" rc-code="${rc}" op-status="0" interval="${interval}" last-rc-change="${NOW - 100}" exec-time="1" queue-time="0"/>`
  );
};

interface NodeSpec {
  /** Member of the cluster (default) or down (cleanly). */
  readonly up?: boolean;
  /** Transient node attributes (name -> value). */
  readonly transient?: Record<string, string>;
  /** lrm_resource entries. */
  readonly history?: string;
}

function cib(opts: {
  props?: Record<string, string>;
  resources: string;
  constraints?: string;
  nodes: Record<string, NodeSpec>;
}): string {
  const names = Object.keys(opts.nodes);
  const props = Object.entries({ 'stonith-enabled': 'false', ...opts.props })
    .map(([k, v]) => `<nvpair id="o-${k}" name="${k}" value="${v}"/>`)
    .join('');
  const state = (n: string, i: number): string => {
    const s = opts.nodes[n] as NodeSpec;
    const up = s.up ?? true;
    const attrs = Object.entries(s.transient ?? {})
      .map(([k, v]) => `<nvpair id="${n}-t-${k}" name="${k}" value="${v}"/>`)
      .join('');
    return (
      `<node_state id="${i + 1}" uname="${n}" in_ccm="${up}" crmd="${up ? 'online' : 'offline'}" ` +
      `join="${up ? 'member' : 'down'}" expected="${up ? 'member' : 'down'}">` +
      (attrs
        ? `<transient_attributes id="${i + 1}"><instance_attributes id="${n}-t">${attrs}</instance_attributes></transient_attributes>`
        : '') +
      `<lrm id="${i + 1}"><lrm_resources>${s.history ?? ''}</lrm_resources></lrm></node_state>`
    );
  };
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="2" execution-date="${NOW}">
  <configuration>
    <crm_config><cluster_property_set id="o">${props}</cluster_property_set></crm_config>
    <nodes>${names.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('')}</nodes>
    <resources>${opts.resources}</resources>
    <constraints>${opts.constraints ?? ''}</constraints>
  </configuration>
  <status>${names.map(state).join('')}</status>
</cib>`;
}

const dummy = (id: string): string =>
  `<primitive id="${id}" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="${id}-mon" name="monitor" interval="10s"/></operations></primitive>`;
const fence = (id: string): string =>
  `<primitive id="${id}" class="stonith" type="fence_xvm"><operations><op id="${id}-mon" name="monitor" interval="60s"/></operations></primitive>`;
/** History of a resource on a node; `lock` records a shutdown lock taken at that time. */
const history = (rsc: string, ops: string, opts: { cls?: string; lock?: number } = {}): string =>
  `<lrm_resource id="${rsc}" ${
    opts.cls === 'stonith'
      ? 'class="stonith" type="fence_xvm"'
      : 'class="ocf" provider="heartbeat" type="Dummy"'
  }${opts.lock !== undefined ? ` shutdown-lock="${opts.lock}"` : ''}>${ops}</lrm_resource>`;
const running = (rsc: string, opts: { cls?: string } = {}): string =>
  history(rsc, op(rsc, 'start', 0, 2) + op(rsc, 'monitor', 0, 3, 10000), opts);
const notRunning = (rsc: string, opts: { cls?: string; lock?: number } = {}): string =>
  history(rsc, op(rsc, 'monitor', 7, 1), opts);
const stopped = (rsc: string, lock?: number): string =>
  history(rsc, op(rsc, 'stop', 0, 4), { lock });

const scenarios: Record<string, string> = {
  'shutdown-lock: resources of a node shutting down stop there and wait for it': cib({
    props: { 'shutdown-lock': 'true' },
    resources:
      fence('fence') +
      dummy('a') +
      `<group id="g">${dummy('g1')}${dummy('g2')}</group>` +
      dummy('b'),
    nodes: {
      n1: {
        transient: { shutdown: String(NOW - 10) },
        history:
          running('fence', { cls: 'stonith' }) +
          running('a') +
          running('g1') +
          running('g2') +
          notRunning('b'),
      },
      n2: {
        history:
          notRunning('fence', { cls: 'stonith' }) +
          notRunning('a') +
          notRunning('g1') +
          notRunning('g2') +
          running('b'),
      },
      n3: {
        history:
          notRunning('fence', { cls: 'stonith' }) +
          notRunning('a') +
          notRunning('g1') +
          notRunning('g2') +
          notRunning('b'),
      },
    },
  }),
  'shutdown-lock-limit: an expired lock is deleted, a current one holds': cib({
    props: { 'shutdown-lock': 'true', 'shutdown-lock-limit': '5m' },
    resources: dummy('a') + dummy('b') + dummy('c'),
    nodes: {
      n1: { up: false, history: stopped('a', NOW - 400) + stopped('b', NOW - 100) },
      n2: { history: notRunning('a') + notRunning('b') + notRunning('c') },
      n3: { history: notRunning('a') + notRunning('b') + running('c') },
    },
  }),
  'shutdown-lock: a locked resource already active elsewhere keeps running': cib({
    props: { 'shutdown-lock': 'true' },
    resources: dummy('a'),
    nodes: {
      n1: { up: false, history: stopped('a', NOW - 50) },
      n2: { history: running('a') },
      n3: { history: notRunning('a') },
    },
  }),
};

describe('cluster options and node states agree with crm_simulate', () => {
  for (const [name, xml] of Object.entries(scenarios)) {
    it(name, () => {
      const expected = sections(crmSimulate(xml));
      const ours = sections(formatSimulation(schedule(xml), { simulate: true }));
      expect(expected.summary.length + expected.actions.length).toBeGreaterThan(0);
      expect(ours).toEqual(expected);
    });
  }
});
