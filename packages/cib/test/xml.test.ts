import { XmlSyntaxError, formatXml, parseXml, serializeXml } from '../src';

describe('lossless XML', () => {
  test('round-trips declaration, comments, CDATA, entities, odd spacing and empty elements byte for byte', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<cib a="1"   b='two' c="&lt;&amp;&gt;&quot;&#10;">
  <x/>
  <y></y>
  <z
     attr="multi-line"
  >text &amp; more<![CDATA[<raw> & stuff]]><!-- inner --></z>
</cib>
`;
    const doc = parseXml(text);
    expect(doc.root.attributes.get('c')).toBe('<&>"\n');
    expect(doc.root.attributes.get('b')).toBe('two');
    // Single-quoted values are written with double quotes: equal, not byte-identical, for that attribute.
    const again = serializeXml(doc);
    expect(again).toBe(text.replace("b='two'", 'b="two"'));
    expect(serializeXml(parseXml(again))).toBe(again);
  });

  test.each([
    ['', /1:1: no root element/],
    ['<cib>', /<cib> is never closed/],
    ['<cib><a></b></cib>', /1:9: <\/b> closes <a> opened at 1:6/],
    ['<cib a="1" a="2"/>', /1:12: duplicate attribute 'a'/],
    ['<cib a=1/>', /must be quoted/],
    ['<cib>&nbsp;</cib>', /1:6: unknown entity &nbsp;/],
    ['<cib>a & b</cib>', /1:8: '&' must be escaped/],
    ['<cib/><cib/>', /a second root element/],
    ['<cib>\n  <a b="x"\n</cib>', /3:1: .*expected a name|3:1/],
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
      expect(err).toMatchObject({ source: 'cib.xml', line: 3, column: 7 });
    }
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
