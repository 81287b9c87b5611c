#!/usr/bin/env node
// The `stylegraph` command: runs the TypeScript CLI through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
// `stylegraph plan x | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => (e.code === 'EPIPE' ? process.exit(0) : Promise.reject(e)));
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
