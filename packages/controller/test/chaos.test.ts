import { FaultKind, formatReport, runChaos } from '../tools/chaos';

// The chaos suite at CI size: one fault of each kind against a small local cluster of real
// processes (cluster node executors, guests, Dummy services; fencing; network namespaces
// where `ip netns add` works). `npm run chaos` runs it at full size (200 random faults).
test('the cluster converges after each fault with no invariant violated and no process left', async () => {
  const lines: string[] = [];
  const report = await runChaos({
    nodes: 3,
    guests: 3,
    services: 3,
    faults: 9,
    seed: 7,
    sequence: [
      FaultKind.killGuest,
      FaultKind.stopNode,
      FaultKind.termGuest,
      FaultKind.failService,
      FaultKind.restartController,
      FaultKind.stopGuest,
      FaultKind.killNode,
      FaultKind.midTransition,
      FaultKind.cutGuest,
    ],
    log: (l) => lines.push(l),
  });
  const text = formatReport(report);
  console.log(`${lines.join('\n')}\n${text}`);
  expect(report.violations).toEqual([]);
  expect(report.leftoverProcesses).toBe(0);
  // A cut link needs network namespaces; without them that fault is replaced.
  expect(report.faults.length).toBe(9);
}, 170_000);
