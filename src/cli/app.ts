// Placeholder until the app commands land (owned by another engineer).
import type { Command } from 'commander';
export function registerApp(_program: Command): void {}
