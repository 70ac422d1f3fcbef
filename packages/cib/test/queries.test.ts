import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CibNotFoundError,
  effectiveMeta,
  effectiveOperations,
  effectiveParams,
  evaluateRule,
  findResource,
  nodeAttributes,
  parseXml,
  readCib,
} from '../src';
import type { LocationConstraint } from '../src';

const execFileP = promisify(execFile);

const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" dc-uuid="1">
  <configuration>
    <crm_config/>
    <nodes>
      <node id="1" uname="node1"><instance_attributes id="n1"><nvpair id="n1-rack" name="rack" value="r1"/></instance_attributes></node>
    </nodes>
    <resources>
      <primitive id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain">
        <meta_attributes id="vm1-m"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes>
      </primitive>
      <group id="g">
        <meta_attributes id="g-m"><nvpair id="g-tr" name="target-role" value="Stopped"/><nvpair id="g-st" name="resource-stickiness" value="50"/></meta_attributes>
        <primitive id="d1" class="ocf" provider="heartbeat" type="Dummy">
          <instance_attributes id="d1-low" score="1"><nvpair id="d1-low-f" name="fake" value="low"/></instance_attributes>
          <instance_attributes id="d1-high" score="10"><nvpair id="d1-high-f" name="fake" value="high"/></instance_attributes>
          <meta_attributes id="d1-m"><nvpair id="d1-st" name="resource-stickiness" value="200"/></meta_attributes>
          <operations>
            <op id="d1-mon" name="monitor" interval="10s"/>
            <op id="d1-start" name="start" interval="0" timeout="90s"/>
          </operations>
        </primitive>
      </group>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="g"><rule id="r1" score="100"><date_expression id="d1e" operation="in_range" start="2026-01-01 00:00:00 +00:00"><duration id="du1" days="10"/></date_expression></rule></rsc_location>
      <rsc_location id="l2" rsc="g"><rule id="r2" score="100"><date_expression id="d2e" operation="gt" start="2026-03-01 12:00:00 +00:00"/></rule></rsc_location>
      <rsc_location id="l3" rsc="g"><rule id="r3" score="100"><date_expression id="d3e" operation="lt" end="2026-02-01T00:00:00Z"/></rule></rsc_location>
    </constraints>
    <rsc_defaults><meta_attributes id="rd"><nvpair id="rd-mt" name="migration-threshold" value="3"/><nvpair id="rd-st" name="resource-stickiness" value="1"/></meta_attributes></rsc_defaults>
    <op_defaults><meta_attributes id="od"><nvpair id="od-t" name="timeout" value="45s"/></meta_attributes></op_defaults>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online">
      <transient_attributes id="1"><instance_attributes id="s1"><nvpair id="s1-p" name="pingd" value="1000"/><nvpair id="s1-r" name="rack" value="r9"/></instance_attributes></transient_attributes>
    </node_state>
  </status>
</cib>`;

describe('queries on the model', () => {
  const cib = readCib(parseXml(CIB));

  test('effective meta: own, then group, then rsc_defaults', () => {
    expect(effectiveMeta(cib, 'd1')).toEqual({
      'resource-stickiness': '200',
      'target-role': 'Stopped',
      'migration-threshold': '3',
    });
    expect(effectiveMeta(cib, 'g')['resource-stickiness']).toBe('50');
    expect(() => effectiveMeta(cib, 'nope')).toThrow(CibNotFoundError);
  });

  test('effective params: the highest-scored set wins', () => {
    expect(effectiveParams(cib, 'd1')).toEqual({ fake: 'high' });
  });

  test('operations get op_defaults and the default timeout', () => {
    const ops = effectiveOperations(cib, 'd1');
    expect(ops.map((o) => [o.name, o.interval, o.timeout])).toEqual([
      ['monitor', 10_000, 45_000],
      ['start', 0, 90_000],
    ]);
  });

  test('node attributes: transient over permanent, plus #uname/#kind/#is_dc', () => {
    expect(nodeAttributes(cib, 'node1')).toMatchObject({
      rack: 'r9',
      pingd: '1000',
      '#uname': 'node1',
      '#kind': 'cluster',
      '#is_dc': 'true',
    });
    expect(nodeAttributes(cib, 'guest1')).toMatchObject({
      '#kind': 'container',
      '#is_dc': 'false',
    });
  });

  test('the resource tree', () => {
    expect(findResource(cib, 'd1')?.ancestors.map((a) => a.id)).toEqual(['g']);
  });

  test.each(['2025-12-15', '2026-01-05', '2026-01-20', '2026-02-15', '2026-03-01', '2026-03-02'])(
    'date rules agree with crm_rule on %s',
    async (day) => {
      for (const id of ['r1', 'r2', 'r3']) {
        const rule = (
          cib.constraints.find(
            (c) => c.kind === 'location' && c.rules[0]?.id === id,
          ) as LocationConstraint
        ).rules[0]!;
        const ours = evaluateRule(rule, { now: new Date(`${day}T12:00:00Z`) });
        let theirs: boolean;
        try {
          await execFileP('crm_rule', ['-c', '-r', id, '-d', `${day} 12:00:00 +00:00`, '-X', CIB]);
          theirs = true;
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code !== 110 && code !== 111 && code !== 112) throw err; // expired, not yet, unsatisfied
          theirs = false;
        }
        expect([id, day, ours]).toEqual([id, day, theirs]);
      }
    },
  );
});
