/** Base class of every error @remora/cib throws. */
export class CibError extends Error {
  override name = 'CibError';
}

/** Text that is not well-formed XML; `line` and `column` are 1-based. */
export class XmlSyntaxError extends CibError {
  override name = 'XmlSyntaxError';
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${source}:${line}:${column}: ${detail}`);
  }
}

/** A CIB that breaks a rule of its structure (wrong root, missing section, bad value). */
export class CibStructureError extends CibError {
  override name = 'CibStructureError';
  constructor(
    /** Where: an XPath-like path to the offending element. */
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/** A modification that names something that does not exist. */
export class CibNotFoundError extends CibError {
  override name = 'CibNotFoundError';
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`no ${kind} '${id}' in the CIB`);
  }
}

/** A write lost a race: the CIB changed since the caller read it. */
export class CibConflictError extends CibError {
  override name = 'CibConflictError';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the CIB changed underneath: expected version ${expected}, found ${actual}`);
  }
}
