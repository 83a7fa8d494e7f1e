import type { Command } from 'commander';

// Work in progress in this session: replaced by the real verb before it is committed.
export function registerNode(_program: Command): void {}
