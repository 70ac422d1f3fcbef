/**
 * OCF meta-data XML for agents that have none of their own (LSB, systemd,
 * upstart), in the shape Pacemaker generates for them.
 */
export interface SynthesizedMetadata {
  readonly name: string;
  readonly shortdesc: string;
  readonly longdesc: string;
  /** Action name, default timeout (e.g. `100s`) and optional interval. */
  readonly actions: ReadonlyArray<{ name: string; timeout: string; interval?: string }>;
  /** Extra `<special tag="…">` content: element name to text. */
  readonly special?: { readonly tag: string; readonly fields: ReadonlyArray<[string, string]> };
}

/** Escape text for an XML attribute or element. */
export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function synthesizeMetadataXml(meta: SynthesizedMetadata): string {
  const lines = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">',
    `<resource-agent name="${xmlEscape(meta.name)}" version="1.0">`,
    '  <version>1.0</version>',
    `  <longdesc lang="en">${xmlEscape(meta.longdesc)}</longdesc>`,
    `  <shortdesc lang="en">${xmlEscape(meta.shortdesc)}</shortdesc>`,
    '  <parameters/>',
    '  <actions>',
    ...meta.actions.map(
      (a) =>
        `    <action name="${xmlEscape(a.name)}" timeout="${xmlEscape(a.timeout)}"` +
        (a.interval ? ` interval="${xmlEscape(a.interval)}"` : '') +
        ' />',
    ),
    '  </actions>',
  ];
  if (meta.special) {
    lines.push(`  <special tag="${xmlEscape(meta.special.tag)}">`);
    for (const [k, v] of meta.special.fields) lines.push(`    <${k}>${xmlEscape(v)}</${k}>`);
    lines.push('  </special>');
  }
  lines.push('</resource-agent>', '');
  return lines.join('\n');
}
