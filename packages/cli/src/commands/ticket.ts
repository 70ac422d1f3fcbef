import type { TicketState } from '@remora/cib';
import { formatCtime } from '@remora/scheduler';
import type { Command } from 'commander';
import { clusterOptions, connectCluster } from '../cluster';
import type { ClusterOptions } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { parseOutputFormat, printJson } from '../output';

interface TicketOptions extends ClusterOptions {
  readonly ticket?: string;
  readonly grant?: boolean;
  readonly revoke?: boolean;
  readonly standby?: boolean;
  readonly activate?: boolean;
  readonly info?: boolean;
  readonly details?: boolean;
  readonly getAttr?: string;
  readonly force?: boolean;
  readonly outputAs: string;
}

const CHANGES = ['grant', 'revoke', 'standby', 'activate'] as const;

/** `last-granted` as crm_ticket prints it (ctime layout, local time). */
function lastGranted(epochSeconds: string): string {
  return /^\d+$/.test(epochSeconds) ? formatCtime(Number(epochSeconds)) : epochSeconds;
}

/** One line of `crm_ticket -l` (or, with details, `-L`). */
function ticketLine(t: TicketState, details: boolean): string {
  const head = `${t.id}\t${t.granted ? 'granted' : 'revoked'}${t.standby ? ' [standby]' : ''}`;
  if (details) {
    const attrs = Object.entries(t.attributes)
      .filter(([k]) => k !== 'id')
      .map(([k, v]) => (k === 'last-granted' ? `${k}='${lastGranted(v)}'` : `${k}=${v}`));
    return attrs.length ? `${head} (${attrs.join(', ')})` : head;
  }
  const last = t.attributes['last-granted'];
  return last === undefined ? head : `${head}           last-granted='${lastGranted(last)}'`;
}

/** `remora ticket` (crm_ticket): multi-site tickets, granted or revoked, standby or active. */
export function registerTicketCommands(program: Command): void {
  clusterOptions(
    program
      .command('ticket')
      .description(
        'list, grant, revoke, standby or activate tickets, which rsc_ticket constraints make resources depend on (crm_ticket)',
      )
      .option('-t, --ticket <id>', 'the ticket')
      .option('-g, --grant', 'grant the ticket to this site (needs --force)')
      .option(
        '-r, --revoke',
        "revoke the ticket from this site (needs --force: the constraints' loss-policy applies)",
      )
      .option('-s, --standby', 'put the ticket in standby (its resources stop, as if revoked)')
      .option('-a, --activate', 'take the ticket out of standby')
      .option('-l, --info', 'list the tickets (the default)')
      .option('-L, --details', 'list the tickets with all their attributes')
      .option(
        '-G, --get-attr <name>',
        "print one attribute of --ticket's state (granted, standby, ...)",
      )
      .option('--force', 'grant or revoke although nothing here can check the other sites')
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Examples:
  remora ticket -l
  remora ticket -t ticketA --grant --force
  remora ticket -t ticketA --standby
  remora ticket -t ticketA -G granted

Exit codes: 0 ok, 4 grant/revoke without --force, 105 no such ticket or
attribute, 2 invalid ticket id, 102 not connected to a cluster, 64 usage.`,
    )
    .action(async (options: TicketOptions) => {
      const format = parseOutputFormat(options.outputAs);
      const changes = CHANGES.filter((c) => options[c] === true);
      const queries = [options.info, options.details, options.getAttr].filter(
        (q) => q !== undefined && q !== false,
      );
      if (changes.length + queries.length > 1)
        throw new CliError(
          'give one of --grant, --revoke, --standby, --activate, -l, -L, -G',
          ExitCode.USAGE,
        );
      const cluster = connectCluster(options);
      const change = changes[0];
      if (change !== undefined) {
        const ticket = options.ticket;
        if (!ticket) throw new CliError(`--${change} needs --ticket`, ExitCode.USAGE);
        if ((change === 'grant' || change === 'revoke') && !options.force)
          throw new CliError(
            change === 'grant'
              ? `nothing here can check whether '${ticket}' is already granted to another site: add --force to grant it anyway`
              : `revoking '${ticket}' applies the loss-policy of the constraints that use it (consider --standby first): add --force to revoke it anyway`,
            ExitCode.INSUFFICIENT_PRIV,
          );
        const r = await cluster.edit({
          command: 'ticket',
          ticket,
          ...(change === 'grant' || change === 'revoke'
            ? { granted: change === 'grant' }
            : { standby: change === 'standby' }),
        });
        if (format === 'json') printJson({ ticket, change, changed: r.changed });
        return;
      }
      const { cib } = await cluster.query();
      if (options.getAttr !== undefined) {
        if (!options.ticket) throw new CliError('-G needs --ticket', ExitCode.USAGE);
        const t = cib.tickets.find((x) => x.id === options.ticket);
        if (!t)
          throw new CliError(
            `no ticket '${options.ticket}' in the status section`,
            ExitCode.NOSUCH,
          );
        // granted and standby read as false when the state does not say.
        const value =
          t.attributes[options.getAttr] ??
          (options.getAttr === 'granted' || options.getAttr === 'standby'
            ? String(t[options.getAttr])
            : undefined);
        if (value === undefined)
          throw new CliError(
            `ticket '${options.ticket}' has no attribute ${options.getAttr}`,
            ExitCode.NOSUCH,
          );
        if (format === 'json') printJson({ ticket: options.ticket, name: options.getAttr, value });
        else process.stdout.write(`${value}\n`);
        return;
      }
      const tickets = cib.tickets.filter((t) => !options.ticket || t.id === options.ticket);
      if (options.ticket && tickets.length === 0)
        throw new CliError(`no ticket '${options.ticket}' in the status section`, ExitCode.NOSUCH);
      if (format === 'json') printJson(tickets);
      else
        for (const t of tickets)
          process.stdout.write(`${ticketLine(t, options.details === true)}\n`);
    });
}
