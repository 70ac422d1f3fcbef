/**
 * The @remora/cib snippet from its README: load a CIB, list remote and
 * guest nodes, evaluate a rule, change the CIB through the store.
 *
 *   npx ts-node examples/cib.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CibStore,
  evaluateRule,
  nodeAttributes,
  parseXml,
  readCib,
  setNodeAttribute,
  verifyCib,
} from '@remora/cib';
import type { LocationConstraint } from '@remora/cib';

const xml = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain">
        <meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes>
      </primitive>
      <primitive id="rack2" class="ocf" provider="pacemaker" type="remote">
        <instance_attributes id="rack2-ia"><nvpair id="rack2-server" name="server" value="10.0.2.1"/></instance_attributes>
      </primitive>
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints>
      <rsc_location id="web-on-guests" rsc="web">
        <rule id="web-on-guests-rule" score="-INFINITY">
          <expression id="web-on-guests-expr" attribute="#kind" operation="ne" value="container"/>
        </rule>
      </rsc_location>
    </constraints>
  </configuration>
  <status/>
</cib>`;

async function main(): Promise<void> {
  const cib = readCib(parseXml(xml, { source: 'example' }));
  for (const g of cib.guestNodes)
    console.log(`guest node ${g.name}: runs in ${g.container}, daemon at ${g.address}:${g.port}`);
  for (const r of cib.remoteNodes) console.log(`remote node ${r.name}: ${r.address}:${r.port}`);

  const rule = (cib.constraints[0] as LocationConstraint).rules[0]!;
  for (const node of cib.nodes) {
    const banned = evaluateRule(rule, { nodeAttributes: nodeAttributes(cib, node.name) });
    console.log(`web on ${node.name} (${node.kind}): ${banned ? '-INFINITY (banned)' : 'allowed'}`);
  }

  console.log('verify:', verifyCib(xml).valid ? 'valid' : 'invalid');

  const dir = await mkdtemp(join(tmpdir(), 'remora-cib-example-'));
  try {
    await using store = await CibStore.open(join(dir, 'cib.xml'), { initial: xml });
    await store.modify((doc) => setNodeAttribute(doc, 'node1', 'standby', 'on'), {
      reason: 'maintenance',
    });
    console.log(
      `after standby: version ${store.version.adminEpoch}.${store.version.epoch}.${store.version.numUpdates}`,
    );
    // A status update: journaled as a patch (cib.xml.journal), the file is not rewritten.
    const before = store.snapshot();
    await store.modify(
      (doc) => setNodeAttribute(doc, 'node1', 'pingd', '1', { lifetime: 'reboot' }),
      { scope: 'status', reason: 'attribute update' },
    );
    const read = await CibStore.read(join(dir, 'cib.xml')); // as another process would
    console.log(
      `after a status update: version ${read.version.epoch}.${read.version.numUpdates} (file + journal); the snapshot taken before still reads ${before.version.epoch}.${before.version.numUpdates}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
