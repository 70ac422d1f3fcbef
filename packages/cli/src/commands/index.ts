import type { Command } from 'commander';
import { registerAgentCommands } from './agent';
import { registerAttributeCommands } from './attribute';
import { registerCibCommands } from './cib';
import { registerNodeCommands } from './node';
import { registerRemoteCommands } from './remote';
import { registerResourceCommands } from './resource';
import { registerSimulateCommands } from './simulate';
import { registerStatusCommands } from './status';
import { registerTicketCommands } from './ticket';

/**
 * Every command group of `remora`. Each lives in its own file under
 * `commands/` and adds itself to the program; add new groups here.
 */
export const commandGroups: ReadonlyArray<(program: Command) => void> = [
  registerAgentCommands,
  registerCibCommands,
  registerRemoteCommands,
  registerStatusCommands,
  registerResourceCommands,
  registerAttributeCommands,
  registerNodeCommands,
  registerSimulateCommands,
  registerTicketCommands,
];
