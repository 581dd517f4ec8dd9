#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli/main.ts by `npm run build` (run by `npm ci`).
import '../dist/cli/main.js';
