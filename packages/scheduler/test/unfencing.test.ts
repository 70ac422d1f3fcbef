import { formatSimulation, parametersDigest, schedule } from '../src';
import { expectSameTransition, sections } from './simulate-output';

/**
 * Unfencing: a fence device with provides=unfencing makes resources require
 * unfencing by default; a node is unfenced (fencing action "on") before
 * anything that requires it is probed or started there, when it has never
 * been unfenced or when the device's definition or parameters changed.
 */
const KEY = '00000000-0000-0000-0000-000000000000';
const op = (rsc: string, task: string, rc: number, call: number, type = 'Dummy'): string =>
  `<lrm_resource id="${rsc}" class="${type === 'fence_scsi' || type === 'fence_virt' ? 'stonith' : 'ocf'}"${
    type === 'Dummy' ? ' provider="pacemaker"' : ''
  } type="${type}"><lrm_rsc_op id="${rsc}_last_0" operation_key="${rsc}_${task}_0" operation="${task}" ` +
  `crm-debug-origin="test" crm_feature_set="3.16.2" transition-key="1:1:0:${KEY}" ` +
  `transition-magic="0:${rc};1:1:0:${KEY}" call-id="${call}" rc-code="${rc}" op-status="0" interval="0" ` +
  `last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${parametersDigest({})}"/></lrm_resource>`;

function cib(opts: {
  unfenced: Record<string, boolean>;
  status?: Record<string, string>;
  deviceMeta?: string;
  rscMeta?: string;
  stonithEnabled?: boolean;
}): string {
  const nodes = ['n1', 'n2', 'n3'];
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="${opts.stonithEnabled ?? true}"/></cluster_property_set></crm_config>
    <nodes>${nodes.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('')}</nodes>
    <resources>
      <primitive id="fencing" class="stonith" type="fence_scsi"><meta_attributes id="f-m">${
        opts.deviceMeta ?? '<nvpair id="f-p" name="provides" value="unfencing"/>'
      }</meta_attributes></primitive>
      <clone id="dlm-clone"><meta_attributes id="c-m">${opts.rscMeta ?? ''}</meta_attributes>
        <primitive id="dlm" class="ocf" provider="pacemaker" type="Dummy"/>
      </clone>
    </resources>
    <constraints/>
  </configuration>
  <status>${nodes
    .map(
      (n, i) =>
        `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member">${
          opts.unfenced[n]
            ? `<transient_attributes id="${n}-t"><instance_attributes id="${n}-ta"><nvpair id="${n}-u" name="#node-unfenced" value="1700000000"/></instance_attributes></transient_attributes>`
            : ''
        }<lrm id="${i + 1}"><lrm_resources>${opts.status?.[n] ?? ''}</lrm_resources></lrm></node_state>`,
    )
    .join('')}</status>
</cib>`;
}

/** n1 and n2 run everything and were unfenced; n3 just joined. */
const running = (fenceType = 'fence_scsi'): Record<string, string> => ({
  n1: op('fencing', 'start', 0, 1, fenceType) + op('dlm', 'start', 0, 2),
  n2: op('fencing', 'monitor', 7, 1, 'fence_scsi') + op('dlm', 'start', 0, 2),
});

const scenarios: Record<string, string> = {
  'a node that was never unfenced is unfenced before its probes and starts': cib({
    unfenced: { n1: true, n2: true },
    status: running(),
  }),
  "a fence device's changed agent unfences its node and restarts what requires unfencing there":
    cib({ unfenced: { n1: true, n2: true, n3: true }, status: running('fence_virt') }),
  'requires=unfencing without a device providing it still turns unfencing on': cib({
    unfenced: { n1: true, n2: true },
    status: running(),
    deviceMeta: '',
    rscMeta: '<nvpair id="c-r" name="requires" value="unfencing"/>',
  }),
  'every node unfenced already: nothing to unfence': cib({
    unfenced: { n1: true, n2: true, n3: true },
    status: running(),
  }),
  'fencing disabled: nothing requires unfencing': cib({
    unfenced: { n1: true, n2: true },
    status: running(),
    stonithEnabled: false,
  }),
};

describe('unfencing agrees with crm_simulate', () => {
  for (const [name, xml] of Object.entries(scenarios)) {
    it(name, () => {
      expectSameTransition(xml);
    });
  }
});

describe('unfencing', () => {
  const fences = (xml: string): string[] =>
    schedule(xml)
      .actions.filter((a) => a.task === 'stonith')
      .map((a) => `${a.fenceAction} ${a.node}`);

  it('unfences a new node, naming the first probe that needs it', () => {
    const result = schedule(
      scenarios[
        'a node that was never unfenced is unfenced before its probes and starts'
      ] as string,
    );
    const on = result.actions.find((a) => a.key === 'stonith-n3-on');
    expect(on?.fenceAction).toBe('on');
    expect(result.summary.map((l) => l.text)).toContain(
      "Fence (on) n3 'required by fencing monitor'",
    );
    // the probes and the start there wait for it
    const after = result.actions.filter((a) => a.node === 'n3' && a.inputs.includes(on?.id ?? -1));
    expect(after.map((a) => `${a.resource} ${a.task}`).sort()).toEqual(
      expect.arrayContaining(['dlm:2 start', 'dlm:2 monitor', 'fencing monitor']),
    );
  });

  it('restarts a resource that requires unfencing where the node is unfenced again', () => {
    const result = schedule(
      scenarios[
        "a fence device's changed agent unfences its node and restarts what requires unfencing there"
      ] as string,
    );
    const texts = result.summary.map((l) => l.text.replace(/\s+/g, ' '));
    expect(texts).toContain("Fence (on) n1 'Device definition changed'");
    expect(texts.some((t) => /^Restart dlm:\d \( n1 \) due to required stonith$/.test(t))).toBe(
      true,
    );
  });

  it('does nothing when every node is unfenced or fencing is disabled', () => {
    expect(fences(scenarios['every node unfenced already: nothing to unfence'] as string)).toEqual(
      [],
    );
    expect(fences(scenarios['fencing disabled: nothing requires unfencing'] as string)).toEqual([]);
  });

  it('leaves an unfenced node in the revised membership', () => {
    const text = formatSimulation(
      schedule(
        scenarios[
          'a node that was never unfenced is unfenced before its probes and starts'
        ] as string,
      ),
      { simulate: true },
    );
    expect(sections(text).revised.join('\n')).toMatch(/Online: \[ n1 n2 n3 \]/);
  });
});
