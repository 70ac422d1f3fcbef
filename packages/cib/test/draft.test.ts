import { produce } from '../src/draft';
import { makePatch, applyPatch } from '../src/patch';
import {
  childElements,
  cloneDocument,
  createElement,
  firstChild,
  parseXml,
  serializeXml,
} from '../src';
import type { XmlDocument, XmlElement } from '../src';

const XML = `<cib epoch="1" num_updates="0" admin_epoch="0"><configuration><resources/></configuration><status>
  <node_state id="1" uname="a"><lrm id="1"><lrm_resources><lrm_resource id="r1"><lrm_rsc_op id="r1_last_0" rc-code="0"/></lrm_resource></lrm_resources></lrm></node_state>
  <node_state id="2" uname="b"/>
  <node_state id="3" uname="c"><!-- note --></node_state>
</status></cib>`;

const status = (doc: XmlDocument): XmlElement => firstChild(doc.root, 'status')!;
const states = (doc: XmlDocument): XmlElement[] => childElements(status(doc), 'node_state');

/** Each edit applied to a draft and to a plain copy must give the same text, and the base stays as it was. */
function check(edit: (doc: XmlDocument) => unknown): XmlDocument {
  const base = parseXml(XML);
  const reference = cloneDocument(base);
  edit(reference);
  const produced = produce(base, edit);
  expect(serializeXml(base)).toBe(XML);
  expect(serializeXml(produced.doc)).toBe(serializeXml(reference));
  // The patch from base to the new version gives the same text again.
  const patch = makePatch(base, produced.doc, produced.origin);
  expect(serializeXml(applyPatch(parseXml(XML), patch, 'test'))).toBe(serializeXml(reference));
  return produced.doc;
}

describe('copy-on-write drafts', () => {
  test('a change copies its path only: untouched subtrees are the same objects', () => {
    const base = parseXml(XML);
    const { doc, changed } = produce(base, (d) => {
      states(d)[1]!.attributes.set('crmd', 'online');
    });
    expect(changed).toBe(true);
    expect(doc.root).not.toBe(base.root);
    expect(firstChild(doc.root, 'configuration')).toBe(firstChild(base.root, 'configuration'));
    expect(states(doc)[0]).toBe(states(base)[0]);
    expect(states(doc)[2]).toBe(states(base)[2]);
    expect(states(doc)[1]).not.toBe(states(base)[1]);
    expect(states(base)[1]!.attributes.has('crmd')).toBe(false);
  });

  test('reading everything changes nothing and copies nothing', () => {
    const base = parseXml(XML);
    const { doc, changed } = produce(base, (d) => {
      for (const ns of states(d)) for (const [k, v] of ns.attributes) void `${k}${v}`;
      return serializeXml(d);
    });
    expect(changed).toBe(false);
    expect(doc).toBe(base);
  });

  test('maps: set, delete, clear, size, iteration, copies, instanceof', () => {
    check((d) => {
      const a = states(d)[0]!.attributes;
      expect(a).toBeInstanceOf(Map);
      expect(a.set('x', '1')).toBe(a);
      expect(a.delete('nope')).toBe(false);
      expect(a.delete('uname')).toBe(true);
      expect(a.size).toBe(2);
      expect([...a.keys()]).toEqual(['id', 'x']);
      expect(new Map(a).get('x')).toBe('1');
      states(d)[1]!.attributes.clear();
    });
  });

  test('arrays: push, splice, filter, reverse, sort, index assignment, length', () => {
    check((d) => {
      const s = status(d);
      s.children.push(createElement('node_state', { id: '4', uname: 'd' }));
      s.children.splice(1, 1);
      const [first] = states(d);
      first!.children = first!.children.filter((c) => c.type === 'element');
      states(d)[2]!.children.reverse();
      s.children.sort((x, y) => (x.type === 'element' ? 1 : 0) - (y.type === 'element' ? 1 : 0));
      s.children[0] = createElement('tickets');
      states(d)[1]!.children.length = 0;
    });
  });

  test('moving an element (a draft) elsewhere and changing it after the move', () => {
    check((d) => {
      const [a, , c] = states(d);
      const lrm = firstChild(a!, 'lrm')!;
      a!.children = [];
      c!.children.push(lrm);
      lrm.attributes.set('moved', 'yes');
      firstChild(firstChild(lrm, 'lrm_resources')!, 'lrm_resource')!.attributes.set('x', 'y');
    });
  });

  test('text: adjacent text nodes merge and empty ones go, as parsing the text would give', () => {
    const doc = check((d) => {
      const b = states(d)[1]!;
      b.children.push({ type: 'text', value: 'x' }, { type: 'text', value: '' });
      b.children.push({ type: 'text', value: 'y' });
      b.selfClosing = false;
    });
    expect(states(doc)[1]!.children).toEqual([{ type: 'text', value: 'xy' }]);
  });

  test('a result that is part of the draft is returned committed; a kept draft cannot be used later', () => {
    const base = parseXml(XML);
    let kept: XmlElement | undefined;
    const { result, doc } = produce(base, (d) => {
      kept = states(d)[1]!;
      kept.attributes.set('in_ccm', 'true');
      return [kept, states(d)[0]!];
    });
    expect(result[0]).toBe(states(doc)[1]);
    expect(result[1]).toBe(states(base)[0]);
    expect(() => kept!.attributes).toThrow(/used after its modification ended/);
  });

  test('an edit that throws leaves the base as it was', () => {
    const base = parseXml(XML);
    expect(() =>
      produce(base, (d) => {
        states(d)[0]!.attributes.set('uname', 'zzz');
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(serializeXml(base)).toBe(XML);
  });
});
