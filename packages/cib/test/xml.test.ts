import { XmlSyntaxError, formatXml, parseXml, serializeXml } from '../src';

describe('lossless XML', () => {
  test('keeps the declaration, comments, CDATA, entities, attribute order and text', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<cib z="1" a='two' c="&lt;&amp;&gt;&quot;&#10;">
  <x/>
  <y></y>
  <z
     attr="multi-line"
  >text &amp; more<![CDATA[<raw> & stuff]]><!-- inner --></z>
</cib>
`;
    const doc = parseXml(text);
    expect([...doc.root.attributes]).toEqual([
      ['z', '1'],
      ['a', 'two'],
      ['c', '<&>"\n'],
    ]);
    // Normalized: double quotes, single spaces in tags, empty elements as <x/> (as libxml2 writes them).
    expect(serializeXml(doc)).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root --><cib z="1" a="two" c="&lt;&amp;&gt;&quot;&#10;">
  <x/>
  <y/>
  <z attr="multi-line">text &amp; more<![CDATA[<raw> & stuff]]><!-- inner --></z>
</cib>
`);
    const again = serializeXml(doc);
    expect(serializeXml(parseXml(again))).toBe(again);
  });

  test.each([
    ['', /1:1: no root element/],
    ['<cib>', /1:1: Unclosed tag 'cib'/],
    ['<cib><a></b></cib>', /1:9: Expected closing tag 'a' \(opened in line 1, col 6\)/],
    ['<cib a="1" a="2"/>', /1:12: Attribute 'a' is repeated/],
    ['<cib a=1/>', /1:6: .*/],
    ['<cib/><cib/>', /1:7: a second root element <cib>/],
    ['<cib>\n  <a b="x"\n</cib>', /3:1:/],
  ])('%p is rejected with line and column', (text, message) => {
    expect(() => parseXml(text, { source: 'test.xml' })).toThrow(XmlSyntaxError);
    expect(() => parseXml(text, { source: 'test.xml' })).toThrow(message);
  });

  test('errors carry the source name, line and column as fields', () => {
    try {
      parseXml('<cib>\n\n   <a></b>\n</cib>', { source: 'cib.xml' });
      throw new Error('not reached');
    } catch (err) {
      expect(err).toBeInstanceOf(XmlSyntaxError);
      expect(err).toMatchObject({ source: 'cib.xml', line: 3 });
    }
  });

  test('inputs over the size limit get a clear error, not a stall', () => {
    const big = `<cib>${'<x/>'.repeat(300_000)}</cib>`;
    expect(() => parseXml(big, { source: 'huge.xml', maxBytes: 1024 * 1024 })).toThrow(
      /huge.xml:1:1: the input is 1.1 MiB, over the 1 MiB limit/,
    );
  });

  test('formatXml re-indents element-only content and keeps text', () => {
    const doc = parseXml(
      '<cib><configuration><nodes><node id="1"/></nodes></configuration><t>keep  me</t></cib>',
    );
    expect(formatXml(doc)).toBe(
      '<cib>\n  <configuration>\n    <nodes>\n      <node id="1"/>\n    </nodes>\n  </configuration>\n  <t>keep  me</t>\n</cib>\n',
    );
  });
});
