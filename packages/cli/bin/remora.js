#!/usr/bin/env node
// Launcher that exists before the build, so npm links `node_modules/.bin/remora`
// at install time; the program itself is compiled to dist/.
'use strict';
try {
  require.resolve('../dist/bin/remora.js');
} catch {
  process.stderr.write('remora: not built yet; run `npm run setup` (or `npm run build`) first\n');
  process.exit(70);
}
require('../dist/bin/remora.js');
