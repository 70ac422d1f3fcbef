import type { Command } from 'commander';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import type { CibInputOptions } from '../input';
import { cibFileFrom, readCibInput, readInput } from '../input';
import { parseOutputFormat, printJson } from '../output';

interface VerifyOptions extends CibInputOptions {
  readonly outputAs: string;
  readonly verbose?: boolean;
}

/** `remora verify` (crm_verify) and `remora cib format`. */
export function registerCibCommands(program: Command): void {
  program
    .command('verify')
    .description(
      'check a CIB for errors, as crm_verify does (exit 0 valid, 78 errors, 65 not XML, 66 unreadable)',
    )
    .option('-x, --xml-file <file>', 'the CIB file to check (default: $CIB_file)')
    .option('-X, --xml-text <xml>', 'the CIB as text')
    .option('-p, --xml-pipe', 'read the CIB from stdin')
    .option('-V, --verbose', 'also print warnings')
    .option('--output-as <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  remora verify -x cib.xml\n  CIB_file=cib.xml remora verify -V\n  cibadmin -Q | remora verify -p',
    )
    .action(async (options: VerifyOptions) => {
      const format = parseOutputFormat(options.outputAs);
      const { text, source } = await readCibInput(
        options,
        ' (checking the live cluster needs `remora status`)',
      );
      const { verifyCib } = await import('@remora/cib');
      const result = verifyCib(text, source);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      if (format === 'json') printJson({ valid: result.valid, diagnostics: result.diagnostics });
      else {
        for (const d of result.diagnostics) {
          if (d.severity === 'warning' && !options.verbose) continue;
          process.stderr.write(`${d.severity}: ${d.path}: ${d.message}\n`);
        }
        if (errors.length > 0)
          process.stderr.write(
            `remora verify: ${errors.length} error(s): configuration not valid\n`,
          );
      }
      if (!result.wellFormed) process.exitCode = ExitCode.DATAERR;
      else if (!result.valid) process.exitCode = ExitCode.CONFIG;
    });

  const cib = program.command('cib').description('work with CIB XML files');
  cib
    .command('format')
    .argument('[file]', "CIB file, '-' for stdin (default: $CIB_file)")
    .option('-x, --xml-file <file>', 'CIB file (same as the argument, as in crm_verify)')
    .option('-i, --in-place', 'rewrite the file (atomically) instead of printing')
    .description('pretty-print a CIB (two-space indentation, attributes and text kept)')
    .addHelpText(
      'after',
      '\nExamples:\n  remora cib format -x cib.xml > pretty.xml\n  remora cib format -i cib.xml',
    )
    .action(
      async (fileArg: string | undefined, options: { inPlace?: boolean; xmlFile?: string }) => {
        const file = fileArg ?? cibFileFrom(options.xmlFile);
        if (file === undefined)
          throw new CliError('no CIB file given (argument, or CIB_file)', ExitCode.USAGE);
        if (options.inPlace && file === '-')
          throw new CliError('--in-place needs a file, not stdin', ExitCode.USAGE);
        const text = await readInput(file, 'CIB');
        const lib = await import('@remora/cib');
        let formatted: string;
        try {
          formatted = lib.formatXml(lib.parseXml(text, { source: file }));
        } catch (err) {
          if (err instanceof lib.XmlSyntaxError)
            throw new CliError(err.message, ExitCode.DATAERR, { cause: err });
          throw err;
        }
        if (options.inPlace) await lib.writeFileAtomic(file, formatted);
        else process.stdout.write(formatted);
      },
    );
}
