// Running shell commands in unit tests: a ShellContext over a MemoryCluster, output captured as
// strings, and a scripted Prompter that answers questions in order (and records them).

import type { Identity } from '../../src/client/api';
import type { Prompter, ShellContext, ShellOutput } from '../../src/shell/context';
import { runLine, type LineStatus } from '../../src/shell/registry';
import { MemoryCluster } from './memory-cluster';

export interface Capture {
  out: ShellOutput;
  stdout(): string;
  stderr(): string;
}

export function capture(columns?: number): Capture {
  let stdout = '';
  let stderr = '';
  return {
    out: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      columns,
    },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

export interface ScriptedPrompter extends Prompter {
  /** The questions asked, with "(hidden)" after the hidden ones. */
  asked: string[];
}

/** Answers questions from `answers` in order; runs out → rejects like a cancelled prompt. */
export function scriptedPrompter(answers: string[]): ScriptedPrompter {
  const asked: string[] = [];
  const answer = async (question: string, hidden: boolean): Promise<string> => {
    asked.push(hidden ? `${question}(hidden)` : question);
    const next = answers.shift();
    if (next === undefined) throw new Error(`no scripted answer for "${question}"`);
    return next;
  };
  return { asked, hidden: (question) => answer(question, true), visible: (question) => answer(question, false) };
}

export function testContext(cluster: MemoryCluster, overrides: Partial<ShellContext> = {}): ShellContext {
  const identity: Identity = { user: 'shared', admin: false };
  return {
    api: cluster,
    identity,
    master: '127.0.0.1:7070',
    cwd: '/',
    passwordless: true,
    env: {},
    prompt: undefined,
    exitRequested: false,
    ...overrides,
  };
}

export interface LineResult {
  status: LineStatus;
  stdout: string;
  stderr: string;
}

/** Runs one line like the shell does and returns what it printed. */
export async function run(ctx: ShellContext, line: string, columns?: number): Promise<LineResult> {
  const captured = capture(columns);
  const status = await runLine(line, ctx, captured.out);
  return { status, stdout: captured.stdout(), stderr: captured.stderr() };
}

/** A small namespace most tests start from. */
export function sampleCluster(): MemoryCluster {
  return new MemoryCluster()
    .addFile('/readme.txt', 1234)
    .addFile('/docs/guide.md', 2048)
    .addFile('/docs/notes/today.txt', 10)
    .addFile('/docs/my report.pdf', 5 * 1024 * 1024, { replicas: { have: 2, want: 3, nodes: ['node-1', 'node-2'] } })
    .addDir('/empty')
    .addFile('/photos/cat.jpg', 300_000)
    .addFile('/photos/dog.jpg', 1_500_000);
}
