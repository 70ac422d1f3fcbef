import {
  CibNotFoundError,
  cleanupResource,
  evaluateRule,
  mergeNvSets,
  parseXml,
  putLocation,
  readCib,
  removeConstraints,
  serializeXml,
  setClusterProperty,
  setNodeAttribute,
  setResourceMeta,
} from '../src';
import type { LocationConstraint } from '../src';

const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources><primitive id="d1" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online">
      <transient_attributes id="1"><instance_attributes id="status-1">
        <nvpair id="f1" name="fail-count-d1#monitor_10000" value="3"/>
        <nvpair id="f2" name="fail-count-d10#monitor_10000" value="1"/>
      </instance_attributes></transient_attributes>
      <lrm id="1"><lrm_resources><lrm_resource id="d1" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="d1_last_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0"/></lrm_resource></lrm_resources></lrm>
    </node_state>
  </status>
</cib>`;

describe('modifications', () => {
  test('cluster properties, node attributes (permanent and transient), resource meta', () => {
    const doc = parseXml(CIB);
    setClusterProperty(doc, 'stonith-enabled', 'false');
    setNodeAttribute(doc, 'node1', 'standby', 'on');
    setNodeAttribute(doc, 'node1', 'pingd', '100', { lifetime: 'reboot' });
    setResourceMeta(doc, 'd1', 'target-role', 'Stopped');
    let cib = readCib(doc);
    expect(cib.properties['stonith-enabled']).toBe('false');
    expect(mergeNvSets(cib.nodes[0]!.attributes).standby).toBe('on');
    expect(cib.status[0]!.transientAttributes.pingd).toBe('100');
    expect(
      cib.resources[0]!.kind === 'primitive' && mergeNvSets(cib.resources[0]!.meta)['target-role'],
    ).toBe('Stopped');
    setNodeAttribute(doc, 'node1', 'standby', undefined);
    setClusterProperty(doc, 'stonith-enabled', 'true');
    cib = readCib(doc);
    expect(mergeNvSets(cib.nodes[0]!.attributes).standby).toBeUndefined();
    expect(cib.properties['stonith-enabled']).toBe('true');
    // ids in the configuration stay unique
    const config = serializeXml(doc).split('<status>')[0]!;
    const ids = config.match(/ id="[^"]+"/g)!;
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('unknown nodes and resources are clear errors', () => {
    const doc = parseXml(CIB);
    expect(() => setNodeAttribute(doc, 'nodeX', 'a', '1')).toThrow(CibNotFoundError);
    expect(() => setNodeAttribute(doc, 'nodeX', 'a', '1')).toThrow("no node 'nodeX' in the CIB");
    expect(() => setResourceMeta(doc, 'nope', 'a', '1')).toThrow("no resource 'nope' in the CIB");
  });

  test('move/ban constraints with a lifetime, then clear', () => {
    const doc = parseXml(CIB);
    putLocation(doc, {
      id: 'cli-prefer-d1',
      rsc: 'd1',
      node: 'node1',
      score: 'INFINITY',
      until: new Date('2026-12-01T00:00:00Z'),
    });
    putLocation(doc, { id: 'cli-ban-d1-on-node2', rsc: 'd1', node: 'node2', score: '-INFINITY' });
    const cib = readCib(doc);
    const prefer = cib.constraints[0] as LocationConstraint;
    expect(prefer.rules[0]!.score).toBe(1_000_000);
    const ctx = { nodeAttributes: { '#uname': 'node1' } };
    expect(evaluateRule(prefer.rules[0]!, { ...ctx, now: new Date('2026-11-30T00:00:00Z') })).toBe(
      true,
    );
    expect(evaluateRule(prefer.rules[0]!, { ...ctx, now: new Date('2026-12-02T00:00:00Z') })).toBe(
      false,
    );
    expect(cib.constraints[1]).toMatchObject({ node: 'node2', score: -1_000_000 });
    expect(
      removeConstraints(doc, (c) => (c.attributes.get('id') ?? '').startsWith('cli-')),
    ).toEqual(['cli-prefer-d1', 'cli-ban-d1-on-node2']);
    expect(readCib(doc).constraints).toEqual([]);
  });

  test('cleanup forgets history and fail counts of that resource only', () => {
    const doc = parseXml(CIB);
    expect(cleanupResource(doc, 'd1')).toEqual(['node1']);
    const ns = readCib(doc).status[0]!;
    expect(ns.resources).toEqual([]);
    expect(ns.transientAttributes).toEqual({ 'fail-count-d10#monitor_10000': '1' });
    expect(cleanupResource(doc, 'd1')).toEqual([]);
  });
});
