#!/usr/bin/env node
// Runs the TypeScript source directly through tsx: no build step between `npm install` and
// `npm start`. (The library itself, 'reliable-dgram', is imported from its built dist/.)
import { register } from 'tsx/esm/api';

register();
await import('../src/client/main.ts');
