import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cloneDocument, parseXml, serializeXml } from '@remora/cib';
import { AgentRunner } from '@remora/agent-runner';
import { ActionKind, OpStatus, parseTransitionGraph, recordOperation, runTransition } from '../src';
import type { GraphAction } from '../src';

const run = promisify(execFile);
const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive class="ocf" id="a" provider="heartbeat" type="Dummy"><operations><op id="a-mon" name="monitor" interval="10s"/></operations></primitive>
      <primitive class="ocf" id="b" provider="heartbeat" type="Dummy"><instance_attributes id="b-ia"><nvpair id="b-fake" name="fake" value="x&amp;y"/></instance_attributes></primitive>
      <primitive class="ocf" id="c" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints><rsc_order id="a-then-b" first="a" then="b"/><rsc_location id="c-on-2" rsc="c" node="node2" score="100"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The real Pacemaker scheduler (crm_simulate) computes the graph; returns it and its executed-action list. */
async function pacemakerGraph(cib: string, name: string): Promise<{ xml: string; out: string }> {
  const cibFile = join(dir, `${name}.xml`);
  const graphFile = join(dir, `${name}.graph.xml`);
  await writeFile(cibFile, cib);
  const { stdout } = await run('crm_simulate', ['-x', cibFile, '-G', graphFile]);
  return { xml: await readFile(graphFile, 'utf8'), out: stdout };
}

describe('transition graphs from the real Pacemaker scheduler (crm_simulate -G)', () => {
  test('parse: synapses, rsc_op/pseudo actions, inputs, meta attributes', async () => {
    const { xml } = await pacemakerGraph(CIB, 'parse');
    const g = parseTransitionGraph(xml);
    const keys = [...g.actions.values()].map((a) => `${a.operationKey}@${a.onNode ?? ''}`);
    expect(keys).toEqual(
      expect.arrayContaining(['a_start_0@node1', 'a_monitor_10000@node1', 'c_start_0@node2']),
    );
    const probe = [...g.actions.values()].find((a) => a.operationKey === 'a_monitor_0')!;
    expect(probe.targetRc).toBe(7);
    expect(probe.resource).toEqual({
      id: 'a',
      longId: undefined,
      class: 'ocf',
      provider: 'heartbeat',
      type: 'Dummy',
    });
    const mon = [...g.actions.values()].find((a) => a.operationKey === 'a_monitor_10000')!;
    expect(mon.interval).toBe(10_000);
    expect(mon.timeout).toBe(20_000);
    expect(() => parseTransitionGraph('<cib/>')).toThrow(/root element is <cib>/);
    expect(() =>
      parseTransitionGraph(
        '<transition_graph><synapse id="0"><action_set><rsc_op id="1" operation="start"/></action_set></synapse></transition_graph>',
      ),
    ).toThrow(/rsc_op 1 has no <primitive>/);
  });

  test('execute with real Dummy agents in dependency order; recorded status makes Pacemaker see a converged cluster', async () => {
    const { xml } = await pacemakerGraph(CIB, 'run');
    const g = parseTransitionGraph(xml);
    const doc = parseXml(CIB);
    const done = new Map<number, number>();
    let order = 0;
    // One agent runner per node, each with its own state directory (Dummy writes where it runs).
    const runners = new Map<string, AgentRunner>();
    for (const n of ['node1', 'node2'])
      runners.set(n, new AgentRunner({ env: { HA_RSCTMP: await mkdtemp(join(dir, `${n}-`)) } }));
    let callId = 0;
    const exec = async (a: GraphAction): Promise<{ confirmed: boolean }> => {
      for (const i of g.synapses.find((s) => s.actions.includes(a))!.inputs)
        expect(done.has(i)).toBe(true);
      const runner = runners.get(a.onNode!)!;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(a.attributes))
        if (!k.startsWith('CRM_meta_') && k !== 'crm_feature_set') params[k] = v;
      const r = await runner.execute({
        resourceId: a.resource!.id,
        agent: `${a.resource!.class}:${a.resource!.provider}:${a.resource!.type}`,
        action: a.interval > 0 ? 'monitor' : a.operation,
        params,
        timeout: a.timeout,
      });
      recordOperation(doc, {
        node: a.onNode!,
        resource: a.resource!,
        operation: a.operation,
        interval: a.interval,
        attributes: a.attributes,
        rc: r.rc,
        opStatus: OpStatus.done,
        callId: ++callId,
        exitReason: r.exitReason,
        transitionKey: `${a.id}:${g.transitionId}:${a.targetRc}:00000000-0000-0000-0000-000000000001`,
        targetRc: a.targetRc,
        startTime: r.startTime,
        runTime: r.runTime,
        queueTime: r.queueTime,
      });
      done.set(a.id, order++);
      return { confirmed: r.rc === a.targetRc };
    };
    const report = await runTransition(g, {
      run: exec,
      perNodeLimit: 2,
    });
    for (const r of runners.values()) await r.close();
    expect(report.status).toBe('complete');
    expect(report.failed).toEqual([]);
    expect(report.maxInFlight).toBeGreaterThan(1);
    const rscOps = [...g.actions.values()].filter((a) => a.kind === ActionKind.rscOp);
    expect(done.size).toBe(rscOps.length);
    const key = (k: string): number =>
      done.get([...g.actions.values()].find((a) => a.operationKey === k)!.id)!;
    expect(key('a_start_0')).toBeLessThan(key('b_start_0'));
    // Pacemaker's own scheduler reads our status records: nothing left to do, every resource Started.
    const after = await pacemakerGraph(serializeXml(cloneDocument(doc)), 'after');
    expect(after.out).toMatch(/\ba\s.*Started node/);
    expect(after.out).toMatch(/\bc\s.*Started node2/);
    expect(parseTransitionGraph(after.xml).synapses).toHaveLength(0);
  });

  test('a failed action stops new work; an abort lets running actions finish', async () => {
    const { xml } = await pacemakerGraph(CIB, 'fail');
    const g = parseTransitionGraph(xml);
    const started: string[] = [];
    const failing = await runTransition(g, {
      run: async (a) => {
        started.push(a.operationKey);
        await run('sleep', ['0.05']);
        return a.operationKey === 'a_start_0'
          ? { confirmed: false, detail: 'rc 1' }
          : { confirmed: true };
      },
    });
    expect(failing.status).toBe('failed');
    expect(failing.failed.map((f) => f.action.operationKey)).toEqual(['a_start_0']);
    expect(started).not.toContain('b_start_0');
    expect(failing.skipped).toBeGreaterThan(0);

    const ac = new AbortController();
    let finished = 0;
    let launched = 0;
    const aborted = await runTransition(g, {
      signal: ac.signal,
      run: async () => {
        launched++;
        ac.abort();
        await run('sleep', ['0.05']);
        finished++;
        return { confirmed: true };
      },
    });
    expect(aborted.status).toBe('aborted');
    expect(launched).toBeGreaterThan(0);
    expect(finished).toBe(launched);
    expect(aborted.skipped).toBeGreaterThan(0);
  });
});
