import { CibStructureError, mergeNvSets, parseXml, readCib } from '../src';

const CIB = `<cib epoch="7" num_updates="3" admin_epoch="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes>
      <node id="1" uname="node1"><instance_attributes id="n1-ia"><nvpair id="n1-s" name="standby" value="on"/></instance_attributes></node>
      <node id="2" uname="node2"/>
    </nodes>
    <resources>
      <primitive class="ocf" id="vm1" provider="heartbeat" type="VirtualDomain">
        <instance_attributes id="vm1-ia"><nvpair id="vm1-cfg" name="config" value="/etc/vm1.xml"/></instance_attributes>
        <meta_attributes id="vm1-meta">
          <nvpair id="vm1-rn" name="remote-node" value="guest1"/>
          <nvpair id="vm1-ra" name="remote-addr" value="10.0.0.11"/>
          <nvpair id="vm1-ct" name="remote-connect-timeout" value="30s"/>
        </meta_attributes>
        <operations><op id="vm1-mon" name="monitor" interval="30s" timeout="PT20S"/></operations>
      </primitive>
      <primitive class="ocf" id="rem1" provider="pacemaker" type="remote">
        <instance_attributes id="rem1-ia"><nvpair id="rem1-srv" name="server" value="10.0.0.50"/><nvpair id="rem1-ri" name="reconnect_interval" value="1min"/></instance_attributes>
      </primitive>
      <group id="web">
        <primitive class="ocf" id="ip" provider="heartbeat" type="IPaddr2"/>
        <primitive class="systemd" id="nginx" type="nginx"/>
      </group>
      <clone id="st-clone"><meta_attributes id="stc-m"><nvpair id="stc-p" name="promotable" value="true"/></meta_attributes>
        <primitive class="ocf" id="st" provider="pacemaker" type="Stateful"/>
      </clone>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="web" node="guest1" score="100"/>
      <rsc_location id="l2" rsc="web"><rule id="l2-r" score="-INFINITY"><expression id="l2-e" attribute="#kind" operation="ne" value="container"/></rule></rsc_location>
      <rsc_colocation id="c1" rsc="web" with-rsc="st-clone" with-rsc-role="Promoted" score="INFINITY"/>
      <rsc_order id="o1" first="vm1" then="web" kind="Optional"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources><lrm_resource id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain">
        <lrm_rsc_op id="vm1_last_0" operation_key="vm1_start_0" operation="start" call-id="5" rc-code="0" op-status="0" interval="0" exec-time="1200" op-digest="abc"/>
      </lrm_resource></lrm_resources></lrm>
      <transient_attributes id="1"><instance_attributes id="s-1"><nvpair id="s-1-f" name="fail-count-vm1#monitor_30000" value="2"/></instance_attributes></transient_attributes>
    </node_state>
  </status>
</cib>`;

describe('the typed CIB model', () => {
  const cib = readCib(parseXml(CIB));

  test('version, properties and nodes', () => {
    expect(cib.version).toEqual({ adminEpoch: 1, epoch: 7, numUpdates: 3 });
    expect(cib.properties['stonith-enabled']).toBe('false');
    expect(cib.haveQuorum).toBe(true);
    expect(cib.nodes.map((n) => [n.name, n.kind])).toEqual([
      ['node1', 'member'],
      ['node2', 'member'],
      ['guest1', 'guest'],
      ['rem1', 'remote'],
    ]);
    expect(mergeNvSets(cib.nodes[0]!.attributes).standby).toBe('on');
  });

  test('guest and remote nodes come from resources, with Pacemaker defaults', () => {
    expect(cib.guestNodes).toEqual([
      {
        name: 'guest1',
        container: 'vm1',
        address: '10.0.0.11',
        port: 3121,
        connectTimeout: 30_000,
        allowMigrate: true,
      },
    ]);
    expect(cib.remoteNodes).toEqual([
      {
        name: 'rem1',
        connection: 'rem1',
        address: '10.0.0.50',
        port: 3121,
        reconnectInterval: 60_000,
        connectTimeout: 60_000,
      },
    ]);
  });

  test('resources: primitives with agents and operations, groups, promotable clones', () => {
    const [vm1, , web, clone] = cib.resources;
    expect(vm1).toMatchObject({ kind: 'primitive', agent: 'ocf:heartbeat:VirtualDomain' });
    expect(vm1!.kind === 'primitive' && vm1.operations[0]).toMatchObject({
      name: 'monitor',
      interval: 30_000,
      timeout: 20_000,
    });
    expect(web).toMatchObject({
      kind: 'group',
      children: [{ agent: 'ocf:heartbeat:IPaddr2' }, { agent: 'systemd:nginx' }],
    });
    expect(clone).toMatchObject({ kind: 'clone', promotable: true, child: { id: 'st' } });
  });

  test('constraints', () => {
    expect(cib.constraints.map((c) => c.kind)).toEqual([
      'location',
      'location',
      'colocation',
      'order',
    ]);
    expect(cib.constraints[1]).toMatchObject({ rules: [{ score: -1_000_000 }] });
    expect(cib.constraints[2]).toMatchObject({ withRscRole: 'Promoted', score: 1_000_000 });
    expect(cib.constraints[3]).toMatchObject({
      orderKind: 'Optional',
      firstAction: 'start',
      thenAction: 'start',
      symmetrical: true,
    });
  });

  test('status: node state, operation history, transient attributes', () => {
    const ns = cib.status[0]!;
    expect(ns).toMatchObject({ uname: 'node1', inCcm: true, crmd: 'online' });
    expect(ns.resources[0]!.operations[0]).toMatchObject({
      operationKey: 'vm1_start_0',
      rc: 0,
      callId: 5,
      execTime: 1200,
      opDigest: 'abc',
    });
    expect(ns.transientAttributes['fail-count-vm1#monitor_30000']).toBe('2');
  });

  test('operations by reference (id-ref), and a clear error for a dangling one', () => {
    const cib = (ref: string): string =>
      `<cib epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources>
        <primitive id="a" class="ocf" provider="heartbeat" type="Dummy"><operations id="ops">
          <op id="a-mon" name="monitor" interval="10s"/></operations></primitive>
        <group id="g"><primitive id="b" class="ocf" provider="heartbeat" type="Dummy"><operations id-ref="${ref}"/></primitive></group>
      </resources><constraints/></configuration><status/></cib>`;
    const g = readCib(parseXml(cib('ops'))).resources[1];
    const b = g?.kind === 'group' ? g.children[0] : undefined;
    expect(b?.operations.map((o) => `${o.id} ${o.name}/${o.interval}`)).toEqual([
      'a-mon monitor/10000',
    ]);
    expect(() => readCib(parseXml(cib('nope')))).toThrow(
      /resources\/group\[@id='g'\]\/primitive\[@id='b'\]\/operations: id-ref 'nope' names no <operations> set/,
    );
  });

  test('templates, tags, tickets and constraints with sets', () => {
    const xml = `<cib epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/>
      <resources>
        <template id="tpl" class="ocf" provider="heartbeat" type="Dummy"><operations>
          <op id="t-mon" name="monitor" interval="10s"/><op id="t-mon-p" name="monitor" interval="5s" role="Promoted"/>
          <op id="t-stop" name="stop" interval="0" timeout="30s"/></operations></template>
        <primitive id="p1" template="tpl"><operations><op id="p1-mon" name="monitor" interval="20s"/></operations></primitive>
      </resources>
      <constraints>
        <rsc_ticket id="tk1" rsc="p1" rsc-role="Started" ticket="T" loss-policy="freeze"/>
        <rsc_ticket id="tk2" ticket="T"><resource_set id="s1" role="Promoted"><resource_ref id="p1"/></resource_set></rsc_ticket>
        <rsc_location id="l1" node="n1" score="5"><resource_set id="s2"><resource_ref id="tg"/></resource_set></rsc_location>
      </constraints>
      <tags><tag id="tg"><obj_ref id="p1"/><obj_ref id="tpl"/></tag></tags>
      </configuration>
      <status><tickets><ticket_state id="T" granted="true" standby="true" last-granted="100"/></tickets></status></cib>`;
    const c = readCib(parseXml(xml));
    expect(c.templates).toEqual(['tpl']);
    expect(c.tags.get('tg')).toEqual(['p1', 'tpl']);
    expect(c.tickets).toEqual([
      {
        id: 'T',
        granted: true,
        standby: true,
        attributes: { id: 'T', granted: 'true', standby: 'true', 'last-granted': '100' },
      },
    ]);
    // the primitive's monitor replaces the template's (same name and role), the others are inherited
    const p1 = c.resources[0];
    expect(p1?.kind === 'primitive' && p1.operations.map((o) => `${o.name}/${o.interval}`)).toEqual(
      ['monitor/20000', 'monitor/5000', 'stop/0'],
    );
    expect(c.constraints[0]).toMatchObject({
      kind: 'ticket',
      rscRole: 'Started',
      lossPolicy: 'freeze',
    });
    expect(c.constraints[1]).toMatchObject({
      kind: 'ticket',
      sets: [{ role: 'Promoted', resources: ['p1'] }],
    });
    expect(c.constraints[2]).toMatchObject({ kind: 'location', sets: [{ resources: ['tg'] }] });
  });

  test('structural errors name the path', () => {
    expect(() => readCib(parseXml('<configuration/>'))).toThrow(/expected <cib>/);
    expect(() => readCib(parseXml('<cib/>'))).toThrow(/missing <configuration>/);
    const badOp = CIB.replace('interval="30s" timeout="PT20S"', 'interval="soon"');
    expect(() => readCib(parseXml(badOp))).toThrow(CibStructureError);
    expect(() => readCib(parseXml(badOp))).toThrow(
      /op\[@id='vm1-mon'\]\/@interval: 'soon' is not a duration/,
    );
    const noProvider = CIB.replace('provider="heartbeat" type="IPaddr2"', 'type="IPaddr2"');
    expect(() => readCib(parseXml(noProvider))).toThrow(
      /primitive\[@id='ip'\]: an OCF primitive needs a 'provider'/,
    );
  });
});
