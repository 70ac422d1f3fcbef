#!/usr/bin/env node
import { run } from '../program';

run(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`remora: internal error: ${String(err)}\n`);
    process.exitCode = 70;
  },
);
